# packaging.mk: install, uninstall and the Debian package (included by the
# Makefile, which defines PREFIX SBINDIR BINDIR DATADIR SYSCONFDIR DESTDIR
# BUILD).
#
#   make install [PREFIX=/usr/local] [DESTDIR=]
#   make uninstall [PREFIX=/usr/local] [DESTDIR=]   (keeps /etc/mxlock and the logs)
#   make deb        ->  $(DEB_OUT)/mxlock_VERSION_ARCH.deb (built with PREFIX=/usr)
#
# The binaries find the provider catalogs at $(DATADIR)/providers, compiled
# in: build and install with the same PREFIX. Systemd looks for units and
# sysusers/tmpfiles snippets under /usr/local/lib too, so PREFIX=/usr/local
# works with systemd as is.

INSTALL ?= install
# /lib on Debian 12 (not merged-/usr in dpkg's view); $(PREFIX)/lib otherwise.
ifeq ($(PREFIX),/usr)
UNITDIR ?= /lib/systemd/system
else
UNITDIR ?= $(PREFIX)/lib/systemd/system
endif
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
LOGROTATEDIR ?= $(SYSCONFDIR)/logrotate.d
MXCONFDIR ?= $(SYSCONFDIR)/mxlock
DOCDIR ?= $(PREFIX)/share/doc/mxlock
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

# The unit names /usr/sbin and /usr/bin; rewritten for other prefixes.
UNIT_SED := -e 's|/usr/sbin/mxlockd|$(SBINDIR)/mxlockd|g' \
            -e 's|/usr/bin/mxlock\b|$(BINDIR)/mxlock|g' \
            -e 's|/etc/mxlock/|$(MXCONFDIR)/|g'

DEB_VERSION = $(shell dpkg-parsechangelog -S Version 2>/dev/null)
DEB_ARCH = $(shell dpkg --print-architecture 2>/dev/null)
DEB_OUT ?= build-deb

.PHONY: install uninstall deb deb-locked deb-clean

install: all man
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/providers
	$(INSTALL) -m 0755 $(BUILD)/mxlockd $(DESTDIR)$(SBINDIR)/mxlockd
	$(INSTALL) -m 0755 $(BUILD)/mxlock $(DESTDIR)$(BINDIR)/mxlock
	$(INSTALL) -m 0644 rules/providers/*.conf $(DESTDIR)$(DATADIR)/providers/
	$(INSTALL) -d -m 0755 $(DESTDIR)$(MXCONFDIR) $(DESTDIR)$(MXCONFDIR)/providers.d
	@if [ -e $(DESTDIR)$(MXCONFDIR)/mxlock.conf ]; then \
		echo "keeping existing $(DESTDIR)$(MXCONFDIR)/mxlock.conf"; \
	else \
		echo "$(INSTALL) -m 0644 mxlock.conf.example $(DESTDIR)$(MXCONFDIR)/mxlock.conf"; \
		$(INSTALL) -m 0644 mxlock.conf.example $(DESTDIR)$(MXCONFDIR)/mxlock.conf; \
	fi
	$(INSTALL) -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(UNITDIR)/postfix@.service.d
	sed $(UNIT_SED) systemd/mxlockd.service >$(DESTDIR)$(UNITDIR)/mxlockd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/mxlockd.service
	$(INSTALL) -m 0644 systemd/postfix@.service.d/mxlock.conf $(DESTDIR)$(UNITDIR)/postfix@.service.d/mxlock.conf
	$(INSTALL) -D -m 0644 systemd/mxlock.sysusers $(DESTDIR)$(SYSUSERSDIR)/mxlock.conf
	$(INSTALL) -D -m 0644 systemd/mxlock.tmpfiles $(DESTDIR)$(TMPFILESDIR)/mxlock.conf
	$(INSTALL) -D -m 0644 systemd/mxlock.logrotate $(DESTDIR)$(LOGROTATEDIR)/mxlock
	$(INSTALL) -d $(DESTDIR)$(DOCDIR)
	for f in README.md docs/*.md; do [ ! -e "$$f" ] || $(INSTALL) -m 0644 "$$f" $(DESTDIR)$(DOCDIR)/; done
	$(INSTALL) -d $(DESTDIR)$(DOCDIR)/examples/rsyslog $(DESTDIR)$(DOCDIR)/examples/prometheus
	$(INSTALL) -m 0644 docs/examples/rsyslog/*.conf $(DESTDIR)$(DOCDIR)/examples/rsyslog/
	$(INSTALL) -m 0644 docs/examples/prometheus/*.yml $(DESTDIR)$(DOCDIR)/examples/prometheus/
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0644 $(BUILD)/man/*.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 $(BUILD)/man/*.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -D -m 0644 src/completion/mxlock.bash $(DESTDIR)$(BASHCOMPDIR)/mxlock
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && [ -d /run/systemd/system ]; then \
		systemd-sysusers $(SYSUSERSDIR)/mxlock.conf && \
		systemd-tmpfiles --create $(TMPFILESDIR)/mxlock.conf && \
		systemctl daemon-reload; \
		echo "Edit $(MXCONFDIR)/mxlock.conf, then: systemctl enable --now mxlockd"; \
	fi

# Leaves the configuration, the logs and the kernel table alone: run
# `mxlock disable` first to lift the lock.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/mxlockd $(DESTDIR)$(BINDIR)/mxlock
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/providers/,$(notdir $(wildcard rules/providers/*.conf)))
	-rmdir $(DESTDIR)$(DATADIR)/providers $(DESTDIR)$(DATADIR) 2>/dev/null
	rm -f $(DESTDIR)$(UNITDIR)/mxlockd.service $(DESTDIR)$(UNITDIR)/postfix@.service.d/mxlock.conf
	-rmdir $(DESTDIR)$(UNITDIR)/postfix@.service.d 2>/dev/null
	rm -f $(DESTDIR)$(SYSUSERSDIR)/mxlock.conf $(DESTDIR)$(TMPFILESDIR)/mxlock.conf
	rm -f $(DESTDIR)$(LOGROTATEDIR)/mxlock
	rm -rf $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(MANDIR)/man5/mxlock.conf.5 $(DESTDIR)$(MANDIR)/man8/mxlockd.8 $(DESTDIR)$(MANDIR)/man8/mxlock.8
	rm -f $(DESTDIR)$(BASHCOMPDIR)/mxlock

# dpkg-buildpackage writes to the parent directory; the results are moved to
# $(DEB_OUT). debian/rules builds in its own build dir (build-deb/obj) with
# PREFIX=/usr and never runs the top-level clean (other builds stay).
# One build at a time per tree (debian/ and ../ are shared): a lock file.
deb:
	@command -v dpkg-buildpackage >/dev/null || { echo "make deb needs dpkg-dev and debhelper (tests/deps.sh)" >&2; exit 1; }
	@mkdir -p $(DEB_OUT)
	flock $(DEB_OUT)/.lock $(MAKE) --no-print-directory deb-locked

deb-locked:
	dpkg-buildpackage -b -us -uc || { debian/rules clean >/dev/null 2>&1; exit 1; }
	@mkdir -p $(DEB_OUT)
	mv ../mxlock_$(DEB_VERSION)_$(DEB_ARCH).deb ../mxlock_$(DEB_VERSION)_$(DEB_ARCH).buildinfo \
		../mxlock_$(DEB_VERSION)_$(DEB_ARCH).changes $(DEB_OUT)/
	for f in ../mxlock-dbgsym_$(DEB_VERSION)_$(DEB_ARCH).*deb; do [ ! -e "$$f" ] || mv "$$f" $(DEB_OUT)/; done
	debian/rules clean
	@echo "$(DEB_OUT)/mxlock_$(DEB_VERSION)_$(DEB_ARCH).deb"

deb-clean:
	debian/rules clean
	rm -rf $(DEB_OUT)
