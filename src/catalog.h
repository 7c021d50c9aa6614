/* src/catalog.h: provider catalogs (rules/providers/NAME.conf): a
 * description, a source, an optional spf record, the date checked, the
 * provider and its MX host patterns (for doctor), and one address or prefix
 * per line with an optional comment naming the host or role. */
#ifndef MXLOCK_CATALOG_H
#define MXLOCK_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "config.h"

#define CATALOG_NAME_MAX 64

struct catalog_entry {
        char *text;             /* "52.208.1.91" or "74.125.0.0/16" as written */
        char *comment;          /* the trailing comment, or NULL */
        int line;
};

struct catalog {
        char name[CATALOG_NAME_MAX];
        char *path;             /* file it was read from */
        char *description;
        char *source;
        char *spf;              /* NULL when none */
        char *checked;          /* "YYYY-MM-DD" the ranges were checked, or NULL */
        char *provider;         /* the provider, the same in all its regions' catalogs, or NULL */
        char *tenant;           /* what ties a connection to the customer's own account, or NULL */
        char *outbound;         /* the catalog of the provider's outbound gateways, when it
                                 * publishes them apart from its inbound ranges, or NULL */
        char **mx;              /* MX host patterns ('*' any run), lower case */
        size_t nmx;
        struct catalog_entry *v;        /* empty when scanned with an entry callback */
        size_t n, cap;
        size_t entries;                 /* entry lines read */
};

/* How catalog_scan_file hands over the entries: to entry() when it is set
 * (checked loosely as for catalog_parse_file; the catalog keeps none), and
 * the file it read, still open, with its stat. entry() returns 0, or a
 * negative errno with "FILE:LINE: message" in err. */
struct catalog_scan {
        int (*entry)(const char *text, const char *comment, int line, char err[CONFIG_ERRLEN], void *userdata);
        void *userdata;
        int fd;                         /* out: the file read, the caller's to close (-1 on failure) */
        struct stat st;                 /* out: its fstat */
};

/* Find NAME.conf in the colon-separated dirs (the last dir that has it wins:
 * /etc/mxlock/providers.d overrides /var/lib/mxlock/providers, which
 * overrides /usr/share/mxlock/providers) and parse it.
 * Returns 0, -ENOENT when no dir has it, or another negative errno with
 * "FILE:LINE: message" in err. Entries are only syntax-checked here. */
int catalog_load(const char *dirs, const char *name, struct catalog **ret, char err[CONFIG_ERRLEN]);

/* Only find the file catalog_load would read: *ret_path (malloc'd). */
int catalog_find(const char *dirs, const char *name, char **ret_path, char err[CONFIG_ERRLEN]);

/* Parse one catalog file. */
int catalog_parse_file(const char *path, const char *name, struct catalog **ret, char err[CONFIG_ERRLEN]);

/* Parse one catalog file, entries going through sc (NULL: kept in the
 * catalog, as catalog_parse_file does). */
int catalog_scan_file(const char *path, const char *name, struct catalog_scan *sc, struct catalog **ret,
                      char err[CONFIG_ERRLEN]);

/* Call cb for each catalog name available in dirs (each name once, sorted). */
int catalog_list(const char *dirs, void (*cb)(const char *name, const char *path, void *userdata), void *userdata);

/* The entry on a line of a catalog (len bytes without the newline, split
 * in place): 1 with *ret_text, 0 for a blank or comment line, -EAGAIN for
 * anything else (a key, or an error that parsing the file would report). */
int catalog_entry_text(char *s, size_t len, const char **ret_text);

/* What changed between two versions of a catalog file: fn gets each line of
 * old (added false) and of new (added true) in the regions where they
 * differ, without its newline; the rest was compared byte for byte. A
 * region ends at the nearest line both versions share again. Returns 0,
 * -E2BIG when the regions come to more than limit bytes, -EAGAIN for a line
 * too long, fn's negative value, or another negative errno. */
int catalog_diff(int old_fd, int new_fd, size_t limit,
                 int (*fn)(bool added, char *line, size_t len, void *userdata), void *userdata);

/* How well host (an MX host name, any case, trailing dot allowed) fits the
 * catalog's mx patterns: the literal characters of the longest pattern that
 * matches, 0 when none does. A longer match is the more specific region
 * ("*.ess.uk.barracudanetworks.com" over "*.ess.barracudanetworks.com"). */
size_t catalog_mx_match(const struct catalog *c, const char *host);

void catalog_free(struct catalog *c);

#endif
