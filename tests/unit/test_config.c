/* tests/unit/test_config.c: the mxlock.conf parser and the provider catalogs.
 * Writes its good and bad files to a temporary directory. Run from the
 * repository root (the shipped catalogs and the example are read from it). */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"
#include "config.h"

#ifndef MXLOCK_DATADIR
#define MXLOCK_DATADIR "/usr/share/mxlock"
#endif

static char tmpdir[256];
static int file_counter;

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static int group_setup(void **state)
{
        (void)state;
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/mxlock-test-config-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
        (void)state;
        return nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write len bytes to DIR/name (name NULL: a fresh name); returns a malloc'ed path. */
static char *write_bytes(const char *sub, const char *name, const char *data, size_t len)
{
        char dir[512], *path = NULL;
        FILE *f;

        if (sub) {
                snprintf(dir, sizeof(dir), "%s/%s", tmpdir, sub);
                (void)mkdir(dir, 0755);
        } else {
                snprintf(dir, sizeof(dir), "%s", tmpdir);
        }
        if (name)
                assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        else
                assert_true(asprintf(&path, "%s/c%d.conf", dir, ++file_counter) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        return path;
}

static char *write_text(const char *text)
{
        return write_bytes(NULL, NULL, text, strlen(text));
}

static struct config *load_ok(const char *text)
{
        char err[CONFIG_ERRLEN] = "";
        struct config *c = NULL;
        char *path = write_text(text);
        int r = config_load(path, &c, err, NULL, NULL);

        if (r != 0)
                fail_msg("config_load(%s) = %d: %s\n---\n%s", path, r, err, text);
        assert_non_null(c);
        assert_string_equal(c->file, path);
        free(path);
        return c;
}

/* Load text, expect rc and "PATH:LINE: ...substring..." (line 0: "PATH: "). */
static void expect_error_rc(const char *text, int rc, int line, const char *substring)
{
        char err[CONFIG_ERRLEN] = "", prefix[600];
        struct config *c = (struct config *)0x1;
        char *path = write_text(text);
        int r = config_load(path, &c, err, NULL, NULL);

        if (line > 0)
                snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
        else
                snprintf(prefix, sizeof(prefix), "%s: ", path);
        if (r != rc || strncmp(err, prefix, strlen(prefix)) || !strstr(err, substring))
                fail_msg("expected %d '%s...%s', got %d '%s'\n---\n%s", rc, prefix, substring, r, err, text);
        assert_ptr_equal(c, (struct config *)0x1);     /* untouched on failure */
        free(path);
}

static void expect_error(const char *text, int line, const char *substring)
{
        expect_error_rc(text, -EINVAL, line, substring);
}

#define POLICY_OK "[policy p]\nports = 25\nallow = 192.0.2.1\n"

/* ---- config: good files ---- */

static void test_defaults(void **state)
{
        struct config *c = load_ok(POLICY_OK);

        (void)state;
        assert_int_equal(c->mode, MODE_ENFORCE);
        assert_int_equal(c->action, ACTION_REJECT);
        assert_int_equal(c->failure, FAILURE_CLOSED);
        assert_int_equal(c->queue, 25);
        assert_int_equal(c->queues, 1);
        assert_string_equal(c->table, "mxlock");
        assert_string_equal(c->audit_log, "/var/log/mxlock/audit.jsonl");
        assert_null(c->user);
        assert_string_equal(c->control_socket, "/run/mxlock/control.sock");
        assert_null(c->control_group);
        assert_string_equal(c->provider_dirs, CONFIG_DEFAULT_PROVIDER_DIRS);
        assert_null(c->metrics_file);
        assert_int_equal(c->metrics_interval, 15);
        assert_false(c->journal);
        assert_int_equal(c->npolicies, 1);
        assert_string_equal(c->policies[0].name, "p");
        assert_int_equal(c->policies[0].line, 1);
        assert_int_equal(c->policies[0].nports, 1);
        assert_int_equal(c->policies[0].ports[0], 25);
        assert_int_equal(c->policies[0].allow.n, 1);
        assert_string_equal(c->policies[0].allow.v[0].text, "192.0.2.1");
        assert_int_equal(c->policies[0].allow.v[0].line, 3);
        assert_ptr_equal(c->policies[0].allow.v[0].file, c->file);
        assert_int_equal(c->policies[0].providers.n, 0);
        assert_int_equal(c->policies[0].deny.n, 0);
        config_free(c);
}

static const char design_example[] =
        "[daemon]\n"
        "mode = enforce            # enforce | monitor (log what would be refused, refuse nothing)\n"
        "action = reject           # reject (TCP reset) | drop\n"
        "failure = closed          # closed | open: what the kernel does while mxlockd is not running\n"
        "queue = 25                # NFQUEUE number (first of a range when queues > 1)\n"
        "table = mxlock            # name of the nftables table mxlockd owns\n"
        "audit_log = /var/log/mxlock/audit.jsonl\n"
        "#user = mxlock            # optional: started as root, drop to this user keeping only CAP_NET_ADMIN\n"
        "\n"
        "[policy inbound-smtp]     # one or more policies; the name is free text [a-z0-9_-]\n"
        "ports = 25\n"
        "providers = gfi-oneconnect   # provider catalogs by name\n"
        "allow = 198.51.100.0/24 2001:db8:25::/48 relay1.corp.example   # CIDR, address, or host name\n"
        "deny = 198.51.100.66      # optional: refused even inside an allowed range\n";

static void test_design_example(void **state)
{
        struct config *c = load_ok(design_example);
        const struct cfg_policy *p;

        (void)state;
        assert_int_equal(c->mode, MODE_ENFORCE);
        assert_int_equal(c->action, ACTION_REJECT);
        assert_int_equal(c->failure, FAILURE_CLOSED);
        assert_int_equal(c->queue, 25);
        assert_string_equal(c->table, "mxlock");
        assert_string_equal(c->audit_log, "/var/log/mxlock/audit.jsonl");
        assert_null(c->user);
        assert_int_equal(c->npolicies, 1);
        p = &c->policies[0];
        assert_string_equal(p->name, "inbound-smtp");
        assert_int_equal(p->line, 10);
        assert_int_equal(p->nports, 1);
        assert_int_equal(p->ports[0], 25);
        assert_int_equal(p->providers.n, 1);
        assert_string_equal(p->providers.v[0].text, "gfi-oneconnect");
        assert_int_equal(p->providers.v[0].line, 12);
        assert_int_equal(p->allow.n, 3);
        assert_string_equal(p->allow.v[0].text, "198.51.100.0/24");
        assert_string_equal(p->allow.v[1].text, "2001:db8:25::/48");
        assert_string_equal(p->allow.v[2].text, "relay1.corp.example");
        assert_int_equal(p->allow.v[2].line, 13);
        assert_int_equal(p->deny.n, 1);
        assert_string_equal(p->deny.v[0].text, "198.51.100.66");
        assert_int_equal(p->deny.v[0].line, 14);
        config_free(c);
}

static void test_all_daemon_keys(void **state)
{
        struct config *c = load_ok(
                "[daemon]\n"
                "mode = MONITOR\n"
                "action = Drop\n"
                "failure = open\n"
                "queue = 100\n"
                "queues = 4\n"
                "table = My_Table-1\n"
                "audit_log = /srv/audit.jsonl\n"
                "user = mxlock\n"
                "control_socket = /run/x/ctl.sock\n"
                "control_group = adm\n"
                "provider_dirs = /a/b:/c\n"
                "metrics_file = /run/x/metrics.prom\n"
                "metrics_interval = 86400\n"
                "journal = yes\n"
                POLICY_OK);

        (void)state;
        assert_int_equal(c->mode, MODE_MONITOR);
        assert_int_equal(c->action, ACTION_DROP);
        assert_int_equal(c->failure, FAILURE_OPEN);
        assert_int_equal(c->queue, 100);
        assert_int_equal(c->queues, 4);
        assert_string_equal(c->table, "My_Table-1");
        assert_string_equal(c->audit_log, "/srv/audit.jsonl");
        assert_string_equal(c->user, "mxlock");
        assert_string_equal(c->control_socket, "/run/x/ctl.sock");
        assert_string_equal(c->control_group, "adm");
        assert_string_equal(c->provider_dirs, "/a/b:/c");
        assert_string_equal(c->metrics_file, "/run/x/metrics.prom");
        assert_int_equal(c->metrics_interval, 86400);
        assert_true(c->journal);
        assert_string_equal(cfg_mode_name(c->mode), "monitor");
        assert_string_equal(cfg_action_name(c->action), "drop");
        assert_string_equal(cfg_failure_name(c->failure), "open");
        config_free(c);
}

static void test_journal_values(void **state)
{
        static const struct { const char *v; bool b; } t[] = {
                { "yes", true }, { "no", false }, { "true", true }, { "false", false },
                { "on", true }, { "off", false }, { "1", true }, { "0", false }, { "YES", true },
        };

        (void)state;
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                char text[256];
                struct config *c;

                snprintf(text, sizeof(text), "[daemon]\njournal = %s\n" POLICY_OK, t[i].v);
                c = load_ok(text);
                assert_int_equal(c->journal, t[i].b);
                config_free(c);
        }
}

static void test_edge_numbers(void **state)
{
        struct config *c = load_ok("[daemon]\nqueue = 0\nqueues = 64\nmetrics_interval = 1\n" POLICY_OK);

        (void)state;
        assert_int_equal(c->queue, 0);
        assert_int_equal(c->queues, 64);
        assert_int_equal(c->metrics_interval, 1);
        config_free(c);
        c = load_ok("[daemon]\nqueue = 65535\n" POLICY_OK);
        assert_int_equal(c->queue, 65535);
        config_free(c);
        c = load_ok("[daemon]\nqueue = 65472\nqueues = 64\n" POLICY_OK);
        assert_int_equal(c->queue, 65472);
        config_free(c);
}

static void test_comments_after_values(void **state)
{
        struct config *c = load_ok(
                "# leading comment\n"
                "   # indented comment\n"
                "[daemon] # section comment\n"
                "mode = monitor# no space before the comment\n"
                "audit_log = /var/log/a.jsonl   # trailing\n"
                "\n"
                "[policy p]#c\n"
                "ports = 25 # , 26\n"
                "allow = 192.0.2.1, 192.0.2.2 # 192.0.2.3\n"
                "providers = google#x\n");
        const struct cfg_policy *p = &c->policies[0];

        (void)state;
        assert_int_equal(c->mode, MODE_MONITOR);
        assert_string_equal(c->audit_log, "/var/log/a.jsonl");
        assert_int_equal(p->nports, 1);
        assert_int_equal(p->ports[0], 25);
        assert_int_equal(p->allow.n, 2);
        assert_string_equal(p->allow.v[1].text, "192.0.2.2");
        assert_int_equal(p->providers.n, 1);
        assert_string_equal(p->providers.v[0].text, "google");
        config_free(c);
}

static void test_lists_accumulate(void **state)
{
        struct config *c = load_ok(
                "[policy p]\n"
                "ports = 25\n"
                "providers = google\n"
                "allow = 192.0.2.1,192.0.2.2\n"
                "providers = microsoft-eop,  mimecast-us\n"
                "allow = 2001:db8::1\t192.0.2.0/24 ,, relay.example\n"
                "deny = 192.0.2.7\n"
                "deny = 192.0.2.8 192.0.2.9\n");
        const struct cfg_policy *p = &c->policies[0];

        (void)state;
        assert_int_equal(p->providers.n, 3);
        assert_string_equal(p->providers.v[0].text, "google");
        assert_int_equal(p->providers.v[0].line, 3);
        assert_string_equal(p->providers.v[1].text, "microsoft-eop");
        assert_string_equal(p->providers.v[2].text, "mimecast-us");
        assert_int_equal(p->providers.v[2].line, 5);
        assert_int_equal(p->allow.n, 5);
        assert_string_equal(p->allow.v[0].text, "192.0.2.1");
        assert_string_equal(p->allow.v[1].text, "192.0.2.2");
        assert_string_equal(p->allow.v[2].text, "2001:db8::1");
        assert_string_equal(p->allow.v[3].text, "192.0.2.0/24");
        assert_string_equal(p->allow.v[4].text, "relay.example");
        assert_int_equal(p->allow.v[1].line, 4);
        assert_int_equal(p->allow.v[4].line, 6);
        assert_int_equal(p->deny.n, 3);
        assert_int_equal(p->deny.v[2].line, 8);
        config_free(c);
}

static void test_ports_ranges(void **state)
{
        struct config *c = load_ok(
                "[policy a]\n"
                "ports = 9096 9095-9096, 25 25\n"
                "ports = 587,1-3\n"
                "providers = google\n"
                "[policy b]\n"
                "ports = 65535 65534-65535 26-26\n"
                "allow = 192.0.2.1\n");
        static const uint16_t want_a[] = { 1, 2, 3, 25, 587, 9095, 9096 };
        static const uint16_t want_b[] = { 26, 65534, 65535 };

        (void)state;
        assert_int_equal(c->npolicies, 2);
        assert_int_equal(c->policies[0].nports, 7);
        for (size_t i = 0; i < 7; i++)
                assert_int_equal(c->policies[0].ports[i], want_a[i]);
        assert_int_equal(c->policies[1].nports, 3);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(c->policies[1].ports[i], want_b[i]);
        assert_int_equal(c->policies[1].line, 5);
        config_free(c);
}

static void test_crlf_and_bom(void **state)
{
        struct config *c = load_ok(
                "\xef\xbb\xbf[daemon]\r\n"
                "mode = monitor\r\n"
                "table = t1  \r\n"
                "\r\n"
                "[policy p]\r\n"
                "ports = 25\r\n"
                "allow = 192.0.2.1 # c\r\n"
                "providers = google\r\n");

        (void)state;
        assert_int_equal(c->mode, MODE_MONITOR);
        assert_string_equal(c->table, "t1");
        assert_int_equal(c->policies[0].line, 5);
        assert_string_equal(c->policies[0].allow.v[0].text, "192.0.2.1");
        assert_string_equal(c->policies[0].providers.v[0].text, "google");
        assert_int_equal(c->policies[0].providers.v[0].line, 8);
        config_free(c);
}

static void test_whitespace_and_no_final_newline(void **state)
{
        struct config *c = load_ok("\t[daemon]\t\n  queue\t=\t7  \n[ policy   p ]\nports=25\nallow=192.0.2.1");

        (void)state;
        assert_int_equal(c->queue, 7);
        assert_string_equal(c->policies[0].name, "p");
        assert_string_equal(c->policies[0].allow.v[0].text, "192.0.2.1");
        config_free(c);
}

struct warnings {
        int n;
        int line[8];
        char msg[8][CONFIG_ERRLEN];
        char file[CONFIG_ERRLEN];
};

static void collect_warning(const char *file, int line, const char *msg, void *userdata)
{
        struct warnings *w = userdata;

        if (w->n < 8) {
                w->line[w->n] = line;
                snprintf(w->msg[w->n], CONFIG_ERRLEN, "%s", msg);
                snprintf(w->file, CONFIG_ERRLEN, "%s", file);
        }
        w->n++;
}

static void test_repeated_scalar_warns(void **state)
{
        struct warnings w = { 0 };
        char err[CONFIG_ERRLEN];
        struct config *c = NULL;
        char *path = write_text("[daemon]\n"
                                "audit_log = /a\n"
                                "metrics_interval = 5\n"
                                "audit_log = /b\n"
                                "[daemon]\n"
                                "metrics_interval = 6\n"
                                POLICY_OK);

        (void)state;
        assert_int_equal(config_load(path, &c, err, collect_warning, &w), 0);
        assert_int_equal(w.n, 2);
        assert_int_equal(w.line[0], 4);
        assert_non_null(strstr(w.msg[0], "audit_log set twice (first at line 2), last one wins"));
        assert_int_equal(w.line[1], 6);
        assert_non_null(strstr(w.msg[1], "metrics_interval set twice"));
        assert_string_equal(w.file, path);
        assert_string_equal(c->audit_log, "/b");
        assert_int_equal(c->metrics_interval, 6);
        config_free(c);
        /* and a NULL callback is fine */
        assert_int_equal(config_load(path, &c, err, NULL, NULL), 0);
        config_free(c);
        free(path);
}

static void test_example_file(void **state)
{
        char err[CONFIG_ERRLEN];
        struct config *c = NULL;
        int r;

        (void)state;
        r = config_load("mxlock.conf.example", &c, err, NULL, NULL);
        if (r != 0)
                fail_msg("mxlock.conf.example: %s", err);
        assert_int_equal(c->mode, MODE_ENFORCE);
        assert_int_equal(c->action, ACTION_REJECT);
        assert_int_equal(c->failure, FAILURE_CLOSED);
        assert_int_equal(c->queue, 25);
        assert_string_equal(c->table, "mxlock");
        assert_int_equal(c->npolicies, 1);
        assert_string_equal(c->policies[0].name, "inbound-smtp");
        assert_int_equal(c->policies[0].nports, 1);
        assert_int_equal(c->policies[0].ports[0], 25);
        assert_int_equal(c->policies[0].providers.n, 1);
        assert_string_equal(c->policies[0].providers.v[0].text, "gfi-oneconnect");
        config_free(c);
}

static void test_list_words(void **state)
{
        struct cfg_list l = { 0 };
        const char *file = "f.conf";

        (void)state;
        assert_int_equal(cfg_list_append_words(&l, "a, b,,c\td  ", file, 3), 0);
        assert_int_equal(cfg_list_append_words(&l, " , ", file, 4), 0);
        assert_int_equal(cfg_list_append_words(&l, "e", file, 5), 0);
        assert_int_equal(l.n, 5);
        assert_string_equal(l.v[0].text, "a");
        assert_string_equal(l.v[1].text, "b");
        assert_string_equal(l.v[2].text, "c");
        assert_string_equal(l.v[3].text, "d");
        assert_string_equal(l.v[4].text, "e");
        assert_int_equal(l.v[3].line, 3);
        assert_int_equal(l.v[4].line, 5);
        assert_ptr_equal(l.v[4].file, file);
        cfg_list_free(&l);
        assert_int_equal(l.n, 0);
        assert_null(l.v);
        cfg_list_free(&l);
        cfg_list_free(NULL);
        config_free(NULL);
}

static void test_names(void **state)
{
        (void)state;
        assert_string_equal(cfg_mode_name(MODE_ENFORCE), "enforce");
        assert_string_equal(cfg_mode_name(MODE_MONITOR), "monitor");
        assert_string_equal(cfg_action_name(ACTION_REJECT), "reject");
        assert_string_equal(cfg_action_name(ACTION_DROP), "drop");
        assert_string_equal(cfg_failure_name(FAILURE_CLOSED), "closed");
        assert_string_equal(cfg_failure_name(FAILURE_OPEN), "open");
}

/* ---- config: bad files ---- */

static void test_err_sections(void **state)
{
        (void)state;
        expect_error("[daemon]\n[foo]\n" POLICY_OK, 2, "unknown section [foo]");
        expect_error("[Daemon]\n" POLICY_OK, 1, "unknown section");
        expect_error("[policyx]\n", 1, "unknown section");
        expect_error("\n[daemon] x\n" POLICY_OK, 2, "junk after section header");
        expect_error("[daemon]]\n" POLICY_OK, 1, "junk after section header");
        expect_error("[daemon\n" POLICY_OK, 1, "lacks ']'");
        expect_error("# x\nmode = enforce\n" POLICY_OK, 2, "key 'mode' outside any section");
        expect_error("[daemon]\nmode enforce\n" POLICY_OK, 2, "missing '='");
        expect_error("[daemon]\n= enforce\n" POLICY_OK, 2, "missing key");
        expect_error("", 0, "no [policy] or [outbound] section");
        expect_error("# only comments\n\n[daemon]\nmode = monitor\n", 0, "no [policy] or [outbound] section");
}

static void test_err_unknown_keys(void **state)
{
        (void)state;
        expect_error("[daemon]\nmode = enforce\nbogus = 1\n" POLICY_OK, 3, "unknown key 'bogus' in [daemon]");
        expect_error("[daemon]\nMode = enforce\n" POLICY_OK, 2, "unknown key 'Mode' in [daemon]");
        expect_error("[policy web]\nports = 25\nport = 26\nallow = 192.0.2.1\n", 3,
                     "unknown key 'port' in [policy web]");
        expect_error("[policy web]\nports = 25\nallow = 192.0.2.1\nmode = monitor\n", 4,
                     "unknown key 'mode' in [policy web]");
        expect_error("[daemon]\nbogus =\n" POLICY_OK, 2, "unknown key 'bogus'");
}

static void test_err_empty_values(void **state)
{
        (void)state;
        expect_error("[daemon]\nmode =\n" POLICY_OK, 2, "empty value for 'mode'");
        expect_error("[daemon]\naudit_log =    # none\n" POLICY_OK, 2, "empty value for 'audit_log'");
        expect_error("[policy p]\nports = 25\nallow = ,\n", 3, "empty value for 'allow'");
        expect_error("[policy p]\nports =\nallow = 192.0.2.1\n", 2, "empty value for 'ports'");
        expect_error("[policy p]\nports = 25\nproviders = \nallow = 192.0.2.1\n", 3,
                     "empty value for 'providers'");
        expect_error("[policy p]\nports = 25\nallow = 192.0.2.1\ndeny=\n", 4, "empty value for 'deny'");
}

static void test_err_enums(void **state)
{
        (void)state;
        expect_error("[daemon]\nmode = enforcing\n" POLICY_OK, 2, "bad mode 'enforcing' (allowed: enforce, monitor)");
        expect_error("[daemon]\naction = refuse\n" POLICY_OK, 2, "bad action 'refuse' (allowed: reject, drop)");
        expect_error("[daemon]\nfailure = half\n" POLICY_OK, 2, "bad failure 'half' (allowed: closed, open)");
        expect_error("[daemon]\njournal = maybe\n" POLICY_OK, 2, "bad journal 'maybe' (allowed: yes, no");
}

static void test_err_numbers(void **state)
{
        (void)state;
        expect_error("[daemon]\nqueue = 65536\n" POLICY_OK, 2, "queue 65536 is out of range (0-65535)");
        expect_error("[daemon]\nqueue = 99999999999999999999999\n" POLICY_OK, 2, "out of range");
        expect_error("[daemon]\nqueue = abc\n" POLICY_OK, 2, "queue: 'abc' is not a number");
        expect_error("[daemon]\nqueue = -1\n" POLICY_OK, 2, "not a number");
        expect_error("[daemon]\nqueue = 25x\n" POLICY_OK, 2, "not a number");
        expect_error("[daemon]\nqueue = 2 5\n" POLICY_OK, 2, "not a number");
        expect_error("[daemon]\nqueues = 0\n" POLICY_OK, 2, "queues 0 is out of range (1-64)");
        expect_error("[daemon]\nqueues = 65\n" POLICY_OK, 2, "queues 65 is out of range (1-64)");
        expect_error("[daemon]\nmetrics_interval = 0\n" POLICY_OK, 2, "out of range (1-86400)");
        expect_error("[daemon]\nmetrics_interval = 86401\n" POLICY_OK, 2, "out of range (1-86400)");
        expect_error("[daemon]\nqueue = 65535\nqueues = 2\n" POLICY_OK, 3, "go beyond 65535");
        expect_error("[daemon]\nqueues = 2\n\nqueue = 65535\n" POLICY_OK, 4, "go beyond 65535");
}

static void test_err_strings(void **state)
{
        char text[512];

        (void)state;
        expect_error("[daemon]\ntable = a b\n" POLICY_OK, 2, "bad table name 'a b'");
        expect_error("[daemon]\ntable = mx.lock\n" POLICY_OK, 2, "bad table name");
        expect_error("[daemon]\ntable = abcdefghijabcdefghijabcdefghij12\n" POLICY_OK, 2, "bad table name");
        expect_error("[daemon]\naudit_log = audit.jsonl\n" POLICY_OK, 2, "audit_log: 'audit.jsonl' is not an absolute path");
        expect_error("[daemon]\nmetrics_file = m.prom\n" POLICY_OK, 2, "not an absolute path");
        expect_error("[daemon]\ncontrol_socket = ctl\n" POLICY_OK, 2, "not an absolute path");
        snprintf(text, sizeof(text), "[daemon]\ncontrol_socket = /%0120d\n" POLICY_OK, 0);
        expect_error(text, 2, "control_socket: path longer than 107 bytes");
        expect_error("[daemon]\nprovider_dirs = /a:rel\n" POLICY_OK, 2, "provider_dirs: 'rel' is not an absolute path");
        expect_error("[daemon]\nprovider_dirs = /a::/b\n" POLICY_OK, 2, "provider_dirs: empty directory");
        expect_error("[daemon]\nuser = bad/user\n" POLICY_OK, 2, "user: bad user name");
        expect_error("[daemon]\ncontrol_group = -x\n" POLICY_OK, 2, "control_group: bad group name");
}

static void test_err_repeated_scalars(void **state)
{
        (void)state;
        expect_error("[daemon]\nmode = enforce\n\nmode = monitor\n" POLICY_OK, 4, "mode set twice (first at line 2)");
        expect_error("[daemon]\naction = drop\naction = drop\n" POLICY_OK, 3, "action set twice");
        expect_error("[daemon]\nfailure = open\n[daemon]\nfailure = closed\n" POLICY_OK, 4, "failure set twice");
        expect_error("[daemon]\nqueue = 1\nqueue = 2\n" POLICY_OK, 3, "queue set twice");
        expect_error("[daemon]\ntable = a\ntable = b\n" POLICY_OK, 3, "table set twice");
}

static void test_err_policy_names(void **state)
{
        (void)state;
        expect_error("[policy Web]\n", 1, "bad policy name 'Web'");
        expect_error("[policy a.b]\n", 1, "bad policy name");
        expect_error("[policy a b]\n", 1, "bad policy name 'a b'");
        expect_error("[policy abcdefghijabcdefghijabcdefghij12]\n", 1, "bad policy name");
        expect_error("[policy]\n", 1, "needs a name");
        expect_error("[policy   ]\n", 1, "needs a name");
        expect_error("[policy a]\nports = 25\nallow = 192.0.2.1\n\n[policy b]\nports = 26\nallow = 192.0.2.1\n"
                     "[policy a]\nports = 27\nallow = 192.0.2.1\n",
                     8, "duplicate policy 'a' (first at line 1)");
        /* 31 characters is fine */
        config_free(load_ok("[policy abcdefghijabcdefghijabcdefghij1]\nports = 25\nallow = 192.0.2.1\n"));
}

static void test_err_policy_content(void **state)
{
        (void)state;
        expect_error("[daemon]\n[policy p]\nallow = 192.0.2.1\n[policy q]\nports = 26\nallow = 192.0.2.1\n",
                     2, "policy 'p' has no ports");
        expect_error("[policy p]\nallow = 192.0.2.1\n", 1, "policy 'p' has no ports");
        expect_error("\n[policy x]\nports = 25\n", 2, "policy 'x' allows no source");
        expect_error("[policy x]\nports = 25\ndeny = 192.0.2.1\n[policy y]\nports = 26\nallow = 192.0.2.1\n",
                     1, "policy 'x' allows no source");
}

static void test_err_ports(void **state)
{
        (void)state;
        expect_error("[policy p]\nports = 0\nallow = 192.0.2.1\n", 2, "ports: '0' is out of range (1-65535)");
        expect_error("[policy p]\nports = 65536\nallow = 192.0.2.1\n", 2, "out of range");
        expect_error("[policy p]\nports = 25 smtp\nallow = 192.0.2.1\n", 2, "ports: 'smtp' is not a port");
        expect_error("[policy p]\nports = 25-\nallow = 192.0.2.1\n", 2, "'25-' is not a port");
        expect_error("[policy p]\nports = -25\nallow = 192.0.2.1\n", 2, "'-25' is not a port");
        expect_error("[policy p]\nports = 1-2-3\nallow = 192.0.2.1\n", 2, "not a port");
        expect_error("[policy p]\nports = 9096-9095\nallow = 192.0.2.1\n", 2, "range '9096-9095' runs backwards");
        expect_error("[policy p]\nports = 0-5\nallow = 192.0.2.1\n", 2, "out of range");
        expect_error("[policy p]\nports = 12345678901234567890123456789012345\nallow = 192.0.2.1\n", 2, "not a port");
}

static void test_err_port_conflicts(void **state)
{
        (void)state;
        expect_error("[policy a]\nports = 25\nports = 587\nallow = 192.0.2.1\n"
                     "[policy b]\nports = 26\nports = 2525, 587\nallow = 192.0.2.1\n",
                     7, "port 587 is locked by policy 'a' (line 3) and by policy 'b'");
        expect_error("[policy a]\nports = 9090-9099\nallow = 192.0.2.1\n"
                     "[policy b]\nports = 9095-9096\nallow = 192.0.2.1\n",
                     5, "port 9095 is locked by policy 'a' (line 2) and by policy 'b'");
}

static void test_err_lines(void **state)
{
        char *big;
        size_t n = 4096;

        (void)state;
        /* exactly 4096 bytes is fine, 4097 is not */
        big = malloc(n + 64);
        assert_non_null(big);
        memset(big, '#', n);
        memcpy(big + n, "\n" POLICY_OK, sizeof("\n" POLICY_OK));
        config_free(load_ok(big));
        memmove(big + 1, big, strlen(big) + 1);
        big[0] = '#';
        memmove(big + 1, big, strlen(big) + 1);
        big[0] = '\n';
        expect_error(big, 2, "line longer than 4096 bytes");
        free(big);
}

static void test_err_nul(void **state)
{
        static const char data[] = "[daemon]\nmode = en\0force\n" POLICY_OK;
        char err[CONFIG_ERRLEN], prefix[600];
        struct config *c = NULL;
        char *path = write_bytes(NULL, NULL, data, sizeof(data) - 1);

        (void)state;
        assert_int_equal(config_load(path, &c, err, NULL, NULL), -EINVAL);
        snprintf(prefix, sizeof(prefix), "%s:2: ", path);
        assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
        assert_non_null(strstr(err, "NUL byte"));
        assert_null(c);
        free(path);
}

static void test_err_not_found(void **state)
{
        char err[CONFIG_ERRLEN], path[600], want[700];
        struct config *c = NULL;

        (void)state;
        snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
        assert_int_equal(config_load(path, &c, err, NULL, NULL), -ENOENT);
        snprintf(want, sizeof(want), "%s: No such file or directory", path);
        assert_string_equal(err, want);
        assert_null(c);
        /* a directory is not a config file */
        assert_true(config_load(tmpdir, &c, err, NULL, NULL) < 0);
        assert_null(c);
        assert_non_null(strstr(err, tmpdir));
}

/* ---- catalogs ---- */

static char *write_catalog(const char *sub, const char *name, const char *text)
{
        return write_bytes(sub, name, text, strlen(text));
}

static char *subdir(const char *sub)
{
        char *p = NULL;

        assert_true(asprintf(&p, "%s/%s", tmpdir, sub) > 0);
        return p;
}

static void test_catalog_parse(void **state)
{
        char err[CONFIG_ERRLEN];
        struct catalog *c = NULL;
        char *path = write_catalog("cat1", "acme.conf",
                                   "# Acme mail filter\r\n"
                                   "description = Acme   \r\n"
                                   "source = Acme docs, \"Firewall\"   # where from\n"
                                   "spf = _spf.acme.example  # optional\n"
                                   "checked = 2024-02-29\n"
                                   "\n"
                                   "192.0.2.1      # mx1.acme.example, Security  \n"
                                   "  198.51.100.0/24\n"
                                   "2001:DB8::/32 #\n"
                                   "10.100.80.*    # legacy\n");

        (void)state;
        assert_int_equal(catalog_parse_file(path, "acme", &c, err), 0);
        assert_string_equal(c->name, "acme");
        assert_string_equal(c->path, path);
        assert_string_equal(c->description, "Acme");
        assert_string_equal(c->source, "Acme docs, \"Firewall\"");
        assert_string_equal(c->spf, "_spf.acme.example");
        assert_string_equal(c->checked, "2024-02-29");
        assert_int_equal(c->n, 4);
        assert_string_equal(c->v[0].text, "192.0.2.1");
        assert_string_equal(c->v[0].comment, "mx1.acme.example, Security");
        assert_int_equal(c->v[0].line, 7);
        assert_string_equal(c->v[1].text, "198.51.100.0/24");
        assert_null(c->v[1].comment);
        assert_int_equal(c->v[1].line, 8);
        assert_string_equal(c->v[2].text, "2001:DB8::/32");
        assert_null(c->v[2].comment);
        assert_string_equal(c->v[3].text, "10.100.80.*");
        assert_string_equal(c->v[3].comment, "legacy");
        catalog_free(c);
        c = NULL;
        /* the name comes from the file when not given */
        assert_int_equal(catalog_parse_file(path, NULL, &c, err), 0);
        assert_string_equal(c->name, "acme");
        catalog_free(c);
        catalog_free(NULL);
        free(path);
}

/* provider, tenant and mx: the keys doctor uses to name the catalog that
 * fits a domain's MX hosts. */
static void test_catalog_mx_keys(void **state)
{
        char err[CONFIG_ERRLEN];
        struct catalog *c = NULL;
        char *path = write_catalog("catmx", "acme-de.conf",
                                   "description = Acme, Germany\n"
                                   "provider = Acme\n"
                                   "tenant = require SMTP AUTH from the gateway\n"
                                   "mx = de-smtp-inbound-*.Acme.example, de-alt.acme.example\n"
                                   "mx = *.de.acme.example   # repeats add\n"
                                   "checked = 2026-12-04\n"
                                   "192.0.2.0/24\n");

        (void)state;
        assert_int_equal(catalog_parse_file(path, "acme-de", &c, err), 0);
        assert_string_equal(c->provider, "Acme");
        assert_string_equal(c->tenant, "require SMTP AUTH from the gateway");
        assert_int_equal(c->nmx, 3);
        assert_string_equal(c->mx[0], "de-smtp-inbound-*.acme.example");       /* lower case */
        assert_string_equal(c->mx[1], "de-alt.acme.example");
        assert_string_equal(c->mx[2], "*.de.acme.example");
        assert_int_equal(c->n, 1);
        /* matching: case and a trailing dot do not matter; '*' takes any run */
        assert_true(catalog_mx_match(c, "de-smtp-inbound-1.acme.example") > 0);
        assert_true(catalog_mx_match(c, "DE-SMTP-INBOUND-2.ACME.EXAMPLE.") > 0);
        assert_true(catalog_mx_match(c, "de-alt.acme.example") > 0);
        assert_true(catalog_mx_match(c, "a.b.de.acme.example") > 0);
        assert_int_equal(catalog_mx_match(c, "eu-smtp-inbound-1.acme.example"), 0);
        assert_int_equal(catalog_mx_match(c, "de-alt.acme.example.org"), 0);
        assert_int_equal(catalog_mx_match(c, "xde-alt.acme.example"), 0);
        assert_int_equal(catalog_mx_match(c, "de.acme.example"), 0);
        assert_int_equal(catalog_mx_match(c, ""), 0);
        assert_int_equal(catalog_mx_match(c, NULL), 0);
        /* the longest literal pattern that matches counts */
        assert_int_equal(catalog_mx_match(c, "de-smtp-inbound-1.acme.example"),
                         strlen("de-smtp-inbound-.acme.example"));
        catalog_free(c);
        c = NULL;
        free(path);

        /* several '*'s; a pattern that backtracks a lot still answers at once */
        path = write_catalog("catmx", "stars.conf",
                             "mx = *-*-inbound-*.x.example, a*a*a*a*a*a*a*a*a*a*a*a*b.example\n192.0.2.1\n");
        assert_int_equal(catalog_parse_file(path, "stars", &c, err), 0);
        assert_true(catalog_mx_match(c, "eu-smtp-inbound-1.x.example") > 0);
        assert_int_equal(catalog_mx_match(c, "eu-inbound.x.example"), 0);
        {
                char host[256];

                memset(host, 'a', 240);
                memcpy(host + 240, ".example", 9);
                assert_int_equal(catalog_mx_match(c, host), 0);
                host[239] = 'b';
                assert_true(catalog_mx_match(c, host) > 0);
        }
        catalog_free(c);
        c = NULL;
        free(path);

        /* a catalog without the keys has none */
        path = write_catalog("catmx", "plain.conf", "192.0.2.1\n");
        assert_int_equal(catalog_parse_file(path, "plain", &c, err), 0);
        assert_null(c->provider);
        assert_null(c->tenant);
        assert_int_equal(c->nmx, 0);
        assert_int_equal(catalog_mx_match(c, "mx.example"), 0);
        catalog_free(c);
        free(path);
}

static void expect_catalog_error(const char *text, int line, const char *substring)
{
        char err[CONFIG_ERRLEN], prefix[600];
        struct catalog *c = NULL;
        char *path = write_catalog("bad", "bad.conf", text);
        int r = catalog_parse_file(path, "bad", &c, err);

        if (line > 0)
                snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
        else
                snprintf(prefix, sizeof(prefix), "%s: ", path);
        if (r != -EINVAL || strncmp(err, prefix, strlen(prefix)) || !strstr(err, substring))
                fail_msg("expected '%s...%s', got %d '%s'\n---\n%s", prefix, substring, r, err, text);
        assert_null(c);
        free(path);
}

static void test_catalog_errors(void **state)
{
        (void)state;
        expect_catalog_error("description = x\n\nurl = http\n192.0.2.1\n", 3, "unknown key 'url'");
        expect_catalog_error("checked = 2026-13-01\n192.0.2.1\n", 1, "checked: '2026-13-01' is not a date");
        expect_catalog_error("192.0.2.1\nchecked = 2026-02-29\n", 2, "not a date");
        expect_catalog_error("192.0.2.1\nchecked = 26-11-23\n", 2, "not a date");
        expect_catalog_error("192.0.2.1\n\n\nchecked = 2026-11-3\n", 4, "not a date");
        expect_catalog_error("192.0.2.1\nchecked = 2026/11/23\n", 2, "not a date");
        expect_catalog_error("192.0.2.1\nchecked = 2026-04-31\n", 2, "not a date");
        expect_catalog_error("192.0.2.1\nchecked = 2026-11-23x\n", 2, "not a date");
        expect_catalog_error("spf = a b\n", 1, "spf: 'a b' is not a domain name");
        expect_catalog_error("description = a\ndescription = b\n192.0.2.1\n", 2, "description set twice (first at line 1)");
        expect_catalog_error("description =\n192.0.2.1\n", 1, "empty value for 'description'");
        expect_catalog_error("192.0.2.1\nmx1.example.com  # a host\n", 2, "'mx1.example.com' is not an address or prefix");
        expect_catalog_error("192.0.2.1 192.0.2.2\n", 1, "one address or prefix per line");
        expect_catalog_error("192.0.2.1\nmx = mx_1.example.com\n", 2, "mx: 'mx_1.example.com' is not a host name pattern");
        expect_catalog_error("192.0.2.1\nmx = ok.example.com, localhost\n", 2, "mx: 'localhost' is not");
        expect_catalog_error("192.0.2.1\nmx = *.*\n", 2, "mx: '*.*' is not");
        expect_catalog_error("192.0.2.1\nmx = .example.com\n", 2, "mx: '.example.com' is not");
        expect_catalog_error("192.0.2.1\nmx = a..example.com\n", 2, "is not a host name pattern");
        expect_catalog_error("192.0.2.1\nmx =\n", 2, "empty value for 'mx'");
        expect_catalog_error("provider = Acme\nprovider = Acme\n192.0.2.1\n", 2, "provider set twice (first at line 1)");
        expect_catalog_error("provider = Acme Mail\n192.0.2.1\n", 1, "provider: 'Acme Mail' is one word");
        expect_catalog_error("tenant = a\ntenant = b\n192.0.2.1\n", 2, "tenant set twice");
        expect_catalog_error("192.0.2.1\nregion = de\n", 2, "unknown key 'region' (allowed: description, source, spf, checked, provider, tenant, outbound, mx)");
        expect_catalog_error("description = nothing here\nsource = x\n# 192.0.2.1\n", 0, "no addresses and no spf");
        expect_catalog_error("", 0, "no addresses and no spf");
}

static void test_catalog_nul_and_long(void **state)
{
        static const char data[] = "192.0.2.1\n192.0.\0002.2\n";
        char err[CONFIG_ERRLEN];
        struct catalog *c = NULL;
        char *path = write_bytes("bad", "nul.conf", data, sizeof(data) - 1), *big;

        (void)state;
        assert_int_equal(catalog_parse_file(path, "nul", &c, err), -EINVAL);
        assert_non_null(strstr(err, ":2: NUL byte"));
        free(path);
        big = malloc(5000);
        assert_non_null(big);
        memcpy(big, "192.0.2.1\n#", 11);
        memset(big + 11, 'x', 4200);
        big[4211] = '\0';
        path = write_catalog("bad", "long.conf", big);
        assert_int_equal(catalog_parse_file(path, "long", &c, err), -EINVAL);
        assert_non_null(strstr(err, ":2: line longer than 4096 bytes"));
        assert_null(c);
        free(path);
        free(big);
}


/* The reader goes through a 64 KiB buffer: lines across its edges, CRLF
 * ends, a last line without a newline, and a line longer than the buffer. */
static void test_catalog_buffer_edges(void **state)
{
        const size_t lines = 30000;
        char err[CONFIG_ERRLEN];
        struct catalog *c = NULL;
        size_t len = 0;
        char *text = malloc(lines * 32 + 200000), *path;

        (void)state;
        assert_non_null(text);
        len += (size_t)sprintf(text + len, "description = edges\r\n");
        for (size_t i = 0; i < lines; i++)
                len += (size_t)sprintf(text + len, i % 5 ? "10.%zu.%zu.0/24%s" : "10.%zu.%zu.1 # host %s",
                                       i / 256 % 256, i % 256, i % 3 ? "\n" : "\r\n");
        len += (size_t)sprintf(text + len, "192.0.2.9");
        path = write_catalog("edges", "edges.conf", text);
        assert_int_equal(catalog_parse_file(path, "edges", &c, err), 0);
        assert_int_equal(c->n, lines + 1);
        for (size_t i = 0; i < lines; i += 997) {
                char want[32];

                snprintf(want, sizeof(want), i % 5 ? "10.%zu.%zu.0/24" : "10.%zu.%zu.1", i / 256 % 256, i % 256);
                assert_string_equal(c->v[i].text, want);
                assert_int_equal(c->v[i].line, (int)i + 2);
                if (i % 5 == 0)
                        assert_non_null(c->v[i].comment);
                else
                        assert_null(c->v[i].comment);
        }
        assert_string_equal(c->v[lines].text, "192.0.2.9");
        catalog_free(c);
        free(path);

        /* line 3 is 100000 bytes: longer than the buffer */
        len = (size_t)sprintf(text, "192.0.2.1\n192.0.2.2\n# ");
        memset(text + len, 'y', 100000);
        len += 100000;
        sprintf(text + len, "\n192.0.2.3\n");
        path = write_catalog("edges", "huge.conf", text);
        c = NULL;
        assert_int_equal(catalog_parse_file(path, "huge", &c, err), -EINVAL);
        assert_non_null(strstr(err, "huge.conf:3: line longer than 4096 bytes"));
        assert_null(c);
        free(path);
        free(text);
}

static void test_catalog_spf_only(void **state)
{
        char err[CONFIG_ERRLEN];
        struct catalog *c = NULL;
        char *path = write_catalog("cat1", "spfonly.conf", "description = s\nspf = spf.example.net\n");

        (void)state;
        assert_int_equal(catalog_parse_file(path, "spfonly", &c, err), 0);
        assert_int_equal(c->n, 0);
        assert_string_equal(c->spf, "spf.example.net");
        assert_null(c->checked);
        catalog_free(c);
        free(path);
}

static void test_catalog_override(void **state)
{
        char err[CONFIG_ERRLEN], *dirs = NULL, *a = subdir("ovA"), *b = subdir("ovB");
        struct catalog *c = NULL;
        char *p1 = write_catalog("ovA", "x.conf", "description = from A\n192.0.2.1\n");
        char *p2 = write_catalog("ovB", "x.conf", "description = from B\n192.0.2.2\n");
        char *p3 = write_catalog("ovA", "onlya.conf", "description = only A\n192.0.2.3\n");

        (void)state;
        assert_true(asprintf(&dirs, "%s:%s", a, b) > 0);
        assert_int_equal(catalog_load(dirs, "x", &c, err), 0);
        assert_string_equal(c->description, "from B");
        assert_string_equal(c->path, p2);
        assert_string_equal(c->name, "x");
        catalog_free(c);
        free(dirs);

        assert_true(asprintf(&dirs, "%s:%s/missing:%s:", b, tmpdir, a) > 0);
        assert_int_equal(catalog_load(dirs, "x", &c, err), 0);
        assert_string_equal(c->description, "from A");
        assert_string_equal(c->path, p1);
        catalog_free(c);
        assert_int_equal(catalog_load(dirs, "onlya", &c, err), 0);
        assert_string_equal(c->description, "only A");
        catalog_free(c);

        c = NULL;
        assert_int_equal(catalog_load(dirs, "nosuch", &c, err), -ENOENT);
        assert_non_null(strstr(err, "provider 'nosuch' not found"));
        assert_null(c);
        assert_int_equal(catalog_load(dirs, "../ovA/x", &c, err), -EINVAL);
        assert_non_null(strstr(err, "bad provider name"));
        assert_int_equal(catalog_load(dirs, "X", &c, err), -EINVAL);
        assert_int_equal(catalog_load(dirs, "", &c, err), -EINVAL);
        assert_null(c);
        free(dirs);

        /* a broken override is an error, not a silent fall back */
        free(write_catalog("ovB", "broken.conf", "description = b\nbogus = 1\n"));
        free(write_catalog("ovA", "broken.conf", "description = a\n192.0.2.1\n"));
        assert_true(asprintf(&dirs, "%s:%s", a, b) > 0);
        assert_int_equal(catalog_load(dirs, "broken", &c, err), -EINVAL);
        assert_non_null(strstr(err, "broken.conf:2: unknown key 'bogus'"));
        assert_null(c);
        free(dirs);
        free(p1);
        free(p2);
        free(p3);
        free(a);
        free(b);
}

struct listing {
        int n;
        char name[32][CATALOG_NAME_MAX];
        char path[32][600];
};

static void collect_listing(const char *name, const char *path, void *userdata)
{
        struct listing *l = userdata;

        if (l->n < 32) {
                snprintf(l->name[l->n], CATALOG_NAME_MAX, "%s", name);
                snprintf(l->path[l->n], 600, "%s", path);
        }
        l->n++;
}

static void test_catalog_list(void **state)
{
        char *a = subdir("lsA"), *b = subdir("lsB"), *dirs = NULL, sub[600];
        char *px = NULL;
        struct listing l = { 0 };

        (void)state;
        free(write_catalog("lsA", "zeta.conf", "192.0.2.1\n"));
        free(write_catalog("lsA", "alpha.conf", "192.0.2.1\n"));
        free(write_catalog("lsB", "alpha.conf", "192.0.2.2\n"));
        free(write_catalog("lsB", "mid-1.conf", "192.0.2.3\n"));
        free(write_catalog("lsB", "README", "not a catalog\n"));
        free(write_catalog("lsB", ".hidden.conf", "192.0.2.3\n"));
        free(write_catalog("lsB", "Upper.conf", "192.0.2.3\n"));
        free(write_catalog("lsB", "alpha.conf.bak", "192.0.2.3\n"));
        snprintf(sub, sizeof(sub), "%s/dir.conf", b);
        assert_int_equal(mkdir(sub, 0755), 0);
        assert_true(asprintf(&dirs, "%s::%s:%s/nope", a, b, tmpdir) > 0);
        assert_int_equal(catalog_list(dirs, collect_listing, &l), 0);
        assert_int_equal(l.n, 3);
        assert_string_equal(l.name[0], "alpha");
        assert_string_equal(l.name[1], "mid-1");
        assert_string_equal(l.name[2], "zeta");
        assert_true(asprintf(&px, "%s/alpha.conf", b) > 0);
        assert_string_equal(l.path[0], px);
        free(px);
        assert_true(asprintf(&px, "%s/zeta.conf", a) > 0);
        assert_string_equal(l.path[2], px);
        free(px);
        free(dirs);
        /* nothing anywhere: zero callbacks, no error */
        memset(&l, 0, sizeof(l));
        assert_int_equal(catalog_list("/nonexistent/mxlock", collect_listing, &l), 0);
        assert_int_equal(l.n, 0);
        free(a);
        free(b);
}

static const char *const shipped[] = {
        "barracuda-au", "barracuda-ca", "barracuda-de", "barracuda-in", "barracuda-uk", "barracuda-us",
        "gfi-oneconnect", "google", "microsoft-eop",
        "mimecast-au", "mimecast-ca", "mimecast-de", "mimecast-eu", "mimecast-global", "mimecast-us",
        "mimecast-usb", "mimecast-za",
        "proofpoint-essentials-eu", "proofpoint-essentials-us",
};

/* Every shipped catalog names its source, the date it was checked, its
 * provider and what ties mail to the customer's own account; its entries
 * say where they come from. */
static void test_shipped_catalogs(void **state)
{
        struct listing l = { 0 };
        char err[CONFIG_ERRLEN];
        size_t n = sizeof(shipped) / sizeof(shipped[0]);

        (void)state;
        assert_int_equal(catalog_list("rules/providers", collect_listing, &l), 0);
        assert_int_equal(l.n, (int)n);
        for (size_t i = 0; i < n; i++) {
                struct catalog *c = NULL;
                int r;

                assert_string_equal(l.name[i], shipped[i]);
                r = catalog_load("rules/providers", shipped[i], &c, err);
                if (r != 0)
                        fail_msg("%s: %s", shipped[i], err);
                assert_non_null(c->description);
                assert_non_null(c->source);
                assert_non_null(c->checked);
                assert_non_null(c->provider);
                assert_non_null(c->tenant);
                assert_true(c->n > 0 || c->spf);
                /* a catalog without ranges says so where admins look */
                if (c->n == 0 && !strstr(c->description, "no ranges shipped"))
                        fail_msg("%s: no entries, and the description does not say so", shipped[i]);
                for (size_t j = 0; j < c->n; j++)
                        assert_non_null(c->v[j].comment);
                /* every regional catalog has MX patterns; only the global one has none */
                if (strcmp(shipped[i], "mimecast-global") != 0 && c->nmx == 0)
                        fail_msg("%s: no mx patterns", shipped[i]);
                catalog_free(c);
        }
}

/* The catalog, loaded from rules/providers, that fits host best. */
static const char *fitting(const char *host)
{
        static char best[CATALOG_NAME_MAX];
        size_t n = sizeof(shipped) / sizeof(shipped[0]), score = 0;
        char err[CONFIG_ERRLEN];

        best[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                struct catalog *c = NULL;
                size_t m;

                assert_int_equal(catalog_load("rules/providers", shipped[i], &c, err), 0);
                m = catalog_mx_match(c, host);
                if (m > score) {
                        score = m;
                        snprintf(best, sizeof(best), "%s", shipped[i]);
                }
                catalog_free(c);
        }
        return best;
}

static void test_shipped_mx_patterns(void **state)
{
        (void)state;
        assert_string_equal(fitting("eu-smtp-inbound-1.mimecast.com"), "mimecast-eu");
        assert_string_equal(fitting("de-smtp-inbound-2.mimecast.com."), "mimecast-de");
        assert_string_equal(fitting("us-smtp-inbound-1.mimecast.com"), "mimecast-us");
        assert_string_equal(fitting("usb-smtp-inbound-1.mimecast.com"), "mimecast-usb");
        assert_string_equal(fitting("za-smtp-inbound-1.mimecast.com"), "mimecast-za");
        assert_string_equal(fitting("au-smtp-inbound-2.mimecast.com"), "mimecast-au");
        assert_string_equal(fitting("ca-smtp-inbound-1.mimecast.com"), "mimecast-ca");
        assert_string_equal(fitting("aspmx.l.google.com"), "google");
        assert_string_equal(fitting("alt1.aspmx.l.google.com"), "google");
        assert_string_equal(fitting("aspmx2.googlemail.com"), "google");
        assert_string_equal(fitting("smtp.google.com"), "google");
        assert_string_equal(fitting("example-org.mail.protection.outlook.com"), "microsoft-eop");
        assert_string_equal(fitting("mx1-us1.ppe-hosted.com"), "proofpoint-essentials-us");
        assert_string_equal(fitting("mx2-eu1.ppe-hosted.com"), "proofpoint-essentials-eu");
        assert_string_equal(fitting("d123456a.ess.barracudanetworks.com"), "barracuda-us");
        assert_string_equal(fitting("d123456.a.ess.uk.barracudanetworks.com"), "barracuda-uk");
        assert_string_equal(fitting("d123456.b.ess.de.barracudanetworks.com"), "barracuda-de");
        assert_string_equal(fitting("mx2.oneconnect.gfi.com"), "gfi-oneconnect");
        assert_string_equal(fitting("mail.example.org"), "");
        assert_string_equal(fitting("mimecast.com"), "");
}

static void test_shipped_contents(void **state)
{
        char err[CONFIG_ERRLEN];
        struct catalog *c = NULL;

        (void)state;
        assert_int_equal(catalog_load("rules/providers", "gfi-oneconnect", &c, err), 0);
        assert_null(c->spf);
        assert_int_equal(c->n, 4);
        assert_string_equal(c->v[0].text, "52.208.1.91");
        assert_string_equal(c->v[0].comment, "mx1.oneconnect.gfi.com, Security");
        assert_string_equal(c->v[1].text, "52.58.249.172");
        assert_string_equal(c->v[1].comment, "mx2.oneconnect.gfi.com, Security");
        assert_string_equal(c->v[2].text, "52.18.79.254");
        assert_string_equal(c->v[2].comment, "oneconnect-mtas2-1.gfi.com, Continuity");
        assert_string_equal(c->v[3].text, "52.31.67.15");
        assert_string_equal(c->v[3].comment, "oneconnect-mtas2-2.gfi.com, Continuity");
        catalog_free(c);

        /* Google publishes _spf.google.com flattened: 2 IPv4 blocks, 6 IPv6 /56s */
        assert_int_equal(catalog_load("rules/providers", "google", &c, err), 0);
        assert_string_equal(c->spf, "_spf.google.com");
        assert_int_equal(c->n, 8);
        assert_string_equal(c->v[0].text, "74.125.0.0/16");
        assert_string_equal(c->v[1].text, "209.85.128.0/17");
        for (size_t i = 2; i < 8; i++)
                assert_non_null(strstr(c->v[i].text, ":4864::/56"));
        catalog_free(c);

        assert_int_equal(catalog_load("rules/providers", "microsoft-eop", &c, err), 0);
        assert_string_equal(c->spf, "spf.protection.outlook.com");
        assert_int_equal(c->n, 11);
        catalog_free(c);

        assert_int_equal(catalog_load("rules/providers", "mimecast-us", &c, err), 0);
        assert_string_equal(c->spf, "us._netblocks.mimecast.com");
        assert_int_equal(c->n, 14);
        catalog_free(c);

        /* the global catalog is exactly the six regional ones it includes */
        assert_int_equal(catalog_load("rules/providers", "mimecast-global", &c, err), 0);
        assert_string_equal(c->spf, "_netblocks.mimecast.com");
        assert_int_equal(c->n, 11 + 14 + 5 + 9 + 11 + 7);
        assert_int_equal(c->nmx, 0);
        catalog_free(c);

        assert_int_equal(catalog_load("rules/providers", "barracuda-us", &c, err), 0);
        assert_string_equal(c->spf, "spf.ess.barracudanetworks.com");
        assert_int_equal(c->n, 0);
        catalog_free(c);

        assert_int_equal(catalog_load("rules/providers", "proofpoint-essentials-us", &c, err), 0);
        assert_string_equal(c->spf, "_spf-us.ppe-hosted.com");
        assert_int_equal(c->n, 0);
        catalog_free(c);
        assert_int_equal(catalog_load("rules/providers", "proofpoint-essentials-eu", &c, err), 0);
        assert_string_equal(c->spf, "_spf-eu.ppe-hosted.com");
        catalog_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_design_example),
                cmocka_unit_test(test_all_daemon_keys),
                cmocka_unit_test(test_journal_values),
                cmocka_unit_test(test_edge_numbers),
                cmocka_unit_test(test_comments_after_values),
                cmocka_unit_test(test_lists_accumulate),
                cmocka_unit_test(test_ports_ranges),
                cmocka_unit_test(test_crlf_and_bom),
                cmocka_unit_test(test_whitespace_and_no_final_newline),
                cmocka_unit_test(test_repeated_scalar_warns),
                cmocka_unit_test(test_example_file),
                cmocka_unit_test(test_list_words),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_err_sections),
                cmocka_unit_test(test_err_unknown_keys),
                cmocka_unit_test(test_err_empty_values),
                cmocka_unit_test(test_err_enums),
                cmocka_unit_test(test_err_numbers),
                cmocka_unit_test(test_err_strings),
                cmocka_unit_test(test_err_repeated_scalars),
                cmocka_unit_test(test_err_policy_names),
                cmocka_unit_test(test_err_policy_content),
                cmocka_unit_test(test_err_ports),
                cmocka_unit_test(test_err_port_conflicts),
                cmocka_unit_test(test_err_lines),
                cmocka_unit_test(test_err_nul),
                cmocka_unit_test(test_err_not_found),
                cmocka_unit_test(test_catalog_parse),
                cmocka_unit_test(test_catalog_errors),
                cmocka_unit_test(test_catalog_mx_keys),
                cmocka_unit_test(test_catalog_nul_and_long),
                cmocka_unit_test(test_catalog_buffer_edges),
                cmocka_unit_test(test_catalog_spf_only),
                cmocka_unit_test(test_catalog_override),
                cmocka_unit_test(test_catalog_list),
                cmocka_unit_test(test_shipped_catalogs),
                cmocka_unit_test(test_shipped_mx_patterns),
                cmocka_unit_test(test_shipped_contents),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
