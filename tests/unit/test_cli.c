/* tests/unit/test_cli.c: the command convention of src/cli.h: option
 * parsing into the typed structs (errors name the option, glibc's words),
 * and commands run as pure functions against a fake mxlockd whose reply
 * the test chooses, their output read back from memory streams. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "control.h"
#include "doctor.h"
#include "export.h"
#include "sync.h"

/* Output of one call: what went to out and to err. */
struct io {
        FILE *out, *err;
        char *obuf, *ebuf;
        size_t olen, elen;
};

static void io_open(struct io *io)
{
        memset(io, 0, sizeof(*io));
        io->out = open_memstream(&io->obuf, &io->olen);
        io->err = open_memstream(&io->ebuf, &io->elen);
        assert_non_null(io->out);
        assert_non_null(io->err);
}

static void io_close(struct io *io)
{
        assert_int_equal(fclose(io->out), 0);
        assert_int_equal(fclose(io->err), 0);
}

static void io_free(struct io *io)
{
        free(io->obuf);
        free(io->ebuf);
}

/* A writable argv from a NULL-terminated list (getopt permutes it). */
struct args {
        int argc;
        char *argv[16];
};

static struct args *args_new(const char *first, ...)
{
        struct args *a = calloc(1, sizeof(*a));
        const char *s = first;
        va_list ap;

        assert_non_null(a);
        va_start(ap, first);
        for (; s && a->argc < 15; s = va_arg(ap, const char *))
                a->argv[a->argc++] = strdup(s);
        va_end(ap);
        return a;
}

static void args_free(struct args *a)
{
        for (int i = 0; i < a->argc; i++)
                free(a->argv[i]);
        free(a);
}

/* The fake daemon: what it was asked, what it answers. */
static struct {
        char request[32];
        char path[128];
        const char *reply;
        int r;
} fake;

static int fake_call(const char *path, const char *request, int timeout_ms, char **ret_reply)
{
        (void) timeout_ms;
        snprintf(fake.request, sizeof(fake.request), "%s", request);
        snprintf(fake.path, sizeof(fake.path), "%s", path);
        if (fake.r < 0)
                return fake.r;
        *ret_reply = strdup(fake.reply);
        return *ret_reply ? 0 : -ENOMEM;
}

/* No configuration file: the defaults, silently (-c was not given). */
static const struct cli cli = {
        .progname = "mxlock",
        .config_path = "/nonexistent/mxlock-test.conf",
        .call = fake_call,
};

static void fake_set(const char *reply, int r)
{
        memset(&fake, 0, sizeof(fake));
        fake.reply = reply;
        fake.r = r;
}

/* ---- option errors: glibc's messages, on the stream given ---- */

static const struct option opts[] = {
        { "format", required_argument, NULL, 'f' },
        { "follow", no_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        {},
};

static void getopt_says(const char *want, int nargs, ...)
{
        struct args *a = calloc(1, sizeof(*a));
        struct io io;
        va_list ap;
        int c;

        assert_non_null(a);
        a->argv[a->argc++] = strdup("export");
        va_start(ap, nargs);
        for (int i = 0; i < nargs; i++)
                a->argv[a->argc++] = strdup(va_arg(ap, const char *));
        va_end(ap);
        io_open(&io);
        optind = 0;
        while ((c = cli_getopt(a->argc, a->argv, "+f:h", opts, io.err)) != -1 && c != '?')
                ;
        io_close(&io);
        assert_int_equal(c, '?');
        assert_string_equal(io.ebuf, want);
        io_free(&io);
        args_free(a);
}

static void test_getopt_messages(void **state)
{
        (void) state;
        getopt_says("export: unrecognized option '--bogus=1'\n", 1, "--bogus=1");
        getopt_says("export: invalid option -- 'Z'\n", 1, "-Z");
        getopt_says("export: invalid option -- 'Z'\n", 2, "--format=ecs", "-Zh");
        getopt_says("export: option '--format' requires an argument\n", 1, "--form");
        getopt_says("export: option requires an argument -- 'f'\n", 1, "-f");
        getopt_says("export: option '--follow' doesn't allow an argument\n", 1, "--follow=yes");
        getopt_says("export: option '--fo' is ambiguous; possibilities: '--format' '--follow'\n", 1, "--fo");
}

/* ---- parsing into the typed structs ---- */

static void test_report_parse(void **state)
{
        struct args *a = args_new("report", "--top", "5", "--format", "csv", "--since", "2026-11-23",
                                  "a.jsonl", "b.jsonl", NULL);
        struct report_opts o;
        struct io io;

        (void) state;
        io_open(&io);
        assert_int_equal(report_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_RUN);
        io_close(&io);
        assert_int_equal(o.report.top, 5);
        assert_int_equal(o.format, REPORT_FORMAT_CSV);
        assert_true(o.report.has_since);
        assert_false(o.report.has_until);
        assert_int_equal(o.report.since, 1795392000LL * 1000000);
        assert_int_equal(o.nfiles, 2);
        assert_string_equal(o.files[1], "b.jsonl");
        assert_int_equal(io.olen + io.elen, 0);
        io_free(&io);
        args_free(a);

        a = args_new("report", "--top", "-3", NULL);
        io_open(&io);
        assert_int_equal(report_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
        io_close(&io);
        assert_string_equal(io.ebuf, "mxlock: report: bad --top '-3'\n");
        io_free(&io);
        args_free(a);

        a = args_new("report", "--since", "2026-11-24", "--until", "2026-11-23", NULL);
        io_open(&io);
        assert_int_equal(report_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
        io_close(&io);
        assert_string_equal(io.ebuf, "mxlock: report: --since is not before --until\n");
        io_free(&io);
        args_free(a);

        /* --help: the usage on out, exit 0 */
        a = args_new("report", "--help", NULL);
        io_open(&io);
        assert_int_equal(report_parse(&o, &cli, a->argc, a->argv, io.out, io.err), 0);
        io_close(&io);
        assert_non_null(strstr(io.obuf, "Usage: mxlock report [--since T]"));
        assert_int_equal(io.elen, 0);
        io_free(&io);
        args_free(a);
}

static void test_explain_parse(void **state)
{
        struct args *a = args_new("explain", "2001:db8::7", "587", "--json", NULL);
        struct explain_opts o;
        struct io io;

        (void) state;
        io_open(&io);
        assert_int_equal(explain_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_RUN);
        io_close(&io);
        assert_true(o.json);
        assert_int_equal(o.family, AF_INET6);
        assert_int_equal(o.port, 587);
        io_free(&io);
        args_free(a);

        a = args_new("explain", "--user", "www-data", "192.0.2.66", NULL);
        io_open(&io);
        assert_int_equal(explain_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_RUN);
        io_close(&io);
        assert_string_equal(o.user, "www-data");
        assert_int_equal(o.family, AF_INET);
        assert_int_equal(o.port, 25);
        io_free(&io);
        args_free(a);

        a = args_new("explain", "192.0.2.1", "0", NULL);
        io_open(&io);
        assert_int_equal(explain_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
        io_close(&io);
        assert_string_equal(io.ebuf, "mxlock: '0' is not a port\n");
        io_free(&io);
        args_free(a);

        a = args_new("explain", "192.0.2.300", NULL);
        io_open(&io);
        assert_int_equal(explain_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
        io_close(&io);
        assert_string_equal(io.ebuf, "mxlock: '192.0.2.300' is not an IPv4 or IPv6 address\n");
        io_free(&io);
        args_free(a);

        a = args_new("explain", "--jsn", "192.0.2.1", NULL);
        io_open(&io);
        assert_int_equal(explain_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
        io_close(&io);
        assert_string_equal(io.ebuf, "explain: unrecognized option '--jsn'\n"
                                     "Usage: mxlock explain [--json] [--user USER] ADDRESS [PORT]\n");
        io_free(&io);
        args_free(a);
}

static void test_other_parsers(void **state)
{
        struct io io;
        struct args *a;

        (void) state;
        {
                struct sync_opts o;

                a = args_new("sync", "--max-shrink", "200", NULL);
                io_open(&io);
                assert_int_equal(sync_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
                io_close(&io);
                assert_string_equal(io.ebuf, "mxlock sync: --max-shrink: '200' is not a percentage (0-100)\n");
                io_free(&io);
                args_free(a);

                a = args_new("sync", "--dry-run", "--timeout", "7", "office365", NULL);
                io_open(&io);
                assert_int_equal(sync_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_RUN);
                io_close(&io);
                assert_true(o.dry_run);
                assert_int_equal(o.timeout_ms, 7000);
                assert_int_equal(o.nnames, 1);
                assert_string_equal(o.names[0], "office365");
                assert_string_equal(o.config_path, cli.config_path);
                io_free(&io);
                args_free(a);
        }
        {
                struct doctor_opts o;

                a = args_new("doctor", "--format", "json", "example..test", NULL);
                io_open(&io);
                assert_int_equal(doctor_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
                io_close(&io);
                assert_string_equal(io.ebuf, "mxlock doctor: 'example..test' is not a domain name\n");
                io_free(&io);
                args_free(a);
        }
        {
                struct export_opts o;

                a = args_new("export", "--since", "7d", NULL);
                io_open(&io);
                assert_int_equal(export_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
                io_close(&io);
                assert_non_null(strstr(io.ebuf, "mxlock export: --format ecs|ocsf is required\nUsage:"));
                io_free(&io);
                args_free(a);
        }
        {
                struct verify_opts o;

                unsetenv("MXLOCK_VERIFY_KEY");
                a = args_new("verify", "audit.jsonl", NULL);
                io_open(&io);
                assert_int_equal(verify_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
                io_close(&io);
                assert_string_equal(io.ebuf, "mxlock: verify: no verification key: --key KEY or "
                                             "$MXLOCK_VERIFY_KEY\n");
                io_free(&io);
                args_free(a);
        }
        {
                struct setup_keys_opts o;

                a = args_new("setup-keys", "--interval", "59", NULL);
                io_open(&io);
                assert_int_equal(setup_keys_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
                io_close(&io);
                assert_string_equal(io.ebuf, "mxlock: setup-keys: bad --interval '59' (60 to 2678400 seconds)\n");
                io_free(&io);
                args_free(a);
        }
        {
                struct request_opts o;

                a = args_new("reload", "now", NULL);
                io_open(&io);
                assert_int_equal(request_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_EXIT_USAGE);
                io_close(&io);
                assert_string_equal(io.ebuf, "Usage: mxlock reload\n");
                io_free(&io);
                args_free(a);
        }
}

/* ---- daemon replies through the JSON reader ---- */

static void test_reply_parse(void **state)
{
        struct cli_reply rp;

        (void) state;
        assert_int_equal(cli_reply_parse("{\"ok\":true}\n", &rp), 0);
        assert_true(rp.ok);
        assert_false(rp.failed);
        assert_null(rp.error);
        cli_reply_free(&rp);

        assert_int_equal(cli_reply_parse("{ \"ok\" : false, \"error\" : \"line 3: \\\"x\\\"\\nnext\" }", &rp), 0);
        assert_false(rp.ok);
        assert_true(rp.failed);
        assert_string_equal(rp.error, "line 3: \"x\"\nnext");
        cli_reply_free(&rp);

        /* what a substring search took for success */
        assert_int_equal(cli_reply_parse("{\"ok\":false,\"error\":\"\\\"ok\\\":true\"}", &rp), 0);
        assert_false(rp.ok);
        cli_reply_free(&rp);

        assert_int_equal(cli_reply_parse("mxlockd 0.1.0, pid 7: enforcing\n", &rp), -EINVAL);
        assert_null(rp.doc);
        assert_false(rp.ok);
        assert_false(rp.failed);
        assert_int_equal(cli_reply_parse("[true]", &rp), -EINVAL);
        assert_int_equal(cli_reply_parse("{\"ok\":true", &rp), -EINVAL);
}

static int run_request(const char *name, struct io *io)
{
        struct args *a = args_new(name, NULL);
        struct request_opts o;
        int r;

        io_open(io);
        r = request_parse(&o, &cli, a->argc, a->argv, io->out, io->err);
        assert_int_equal(r, CLI_RUN);
        r = cmd_request(&o, io->out, io->err);
        io_close(io);
        args_free(a);
        return r;
}

static void test_request_replies(void **state)
{
        struct io io;

        (void) state;
        fake_set("{\"ok\":true}\n", 0);
        assert_int_equal(run_request("reload", &io), 0);
        assert_string_equal(fake.request, "reload");
        assert_string_equal(fake.path, CONTROL_DEFAULT_SOCKET);
        assert_string_equal(io.obuf, "reloaded: the new configuration is in force\n");
        assert_int_equal(io.elen, 0);
        io_free(&io);

        fake_set("{\"ok\":false,\"error\":\"/etc/mxlock/mxlock.conf:4: unknown key \\\"alow\\\"\\n\\u001b[2J\"}\n", 0);
        assert_int_equal(run_request("disable", &io), 1);
        assert_string_equal(fake.request, "disable");
        assert_int_equal(io.olen, 0);
        assert_string_equal(io.ebuf, "mxlock: /etc/mxlock/mxlock.conf:4: unknown key \"alow\"\n\\u001b[2J\n");
        io_free(&io);

        /* an error that carries "ok":true in its text is still an error */
        fake_set("{\"ok\":false,\"error\":\"\\\"ok\\\":true\"}\n", 0);
        assert_int_equal(run_request("enable", &io), 1);
        assert_int_equal(io.olen, 0);
        assert_string_equal(io.ebuf, "mxlock: \"ok\":true\n");
        io_free(&io);

        fake_set("garbage\n", 0);
        assert_int_equal(run_request("enable", &io), 1);
        assert_string_equal(io.ebuf, "mxlock: garbage\n");
        io_free(&io);

        fake_set(NULL, -ECONNREFUSED);
        assert_int_equal(run_request("reload", &io), 1);
        assert_string_equal(io.ebuf, "mxlock: mxlockd is not running (no control socket at "
                                     CONTROL_DEFAULT_SOCKET ")\n");
        io_free(&io);
}

static int run_status(bool json, struct io *io)
{
        struct status_opts o = { .cli = &cli, .json = json };
        int r;

        io_open(io);
        r = cmd_status(&o, io->out, io->err);
        io_close(io);
        return r;
}

static void test_status_replies(void **state)
{
        static const char text[] = "mxlockd 0.1.0: enforcing, 2 policies\n  inbound-smtp: 12 refused\n";
        static const char denied[] = "{\"ok\":false,\"error\":\"permission denied: root or the control group only\"}\n";
        struct io io;

        (void) state;
        fake_set(text, 0);
        assert_int_equal(run_status(false, &io), 0);
        assert_string_equal(fake.request, "status-text");
        assert_string_equal(io.obuf, text);
        io_free(&io);

        fake_set(denied, 0);
        assert_int_equal(run_status(false, &io), 1);
        assert_string_equal(io.obuf, denied);
        io_free(&io);

        /* --json: the daemon's object as it is, exit 0 whatever it says */
        fake_set(denied, 0);
        assert_int_equal(run_status(true, &io), 0);
        assert_string_equal(fake.request, "status");
        assert_string_equal(io.obuf, denied);
        io_free(&io);

        fake_set(NULL, -EACCES);
        assert_int_equal(run_status(false, &io), 1);
        assert_int_equal(io.olen, 0);
        assert_string_equal(io.ebuf, "mxlock: " CONTROL_DEFAULT_SOCKET ": permission denied: root or the "
                                     "control group only\n");
        io_free(&io);
}

/* ---- a local command end to end: providers over a directory ---- */

static void test_providers(void **state)
{
        char dir[] = "/tmp/test_cli.XXXXXX", path[64];
        struct providers_opts o = { .cli = &cli };
        struct io io;
        FILE *f;

        (void) state;
        assert_non_null(mkdtemp(dir));
        o.dirs = dir;
        io_open(&io);
        assert_int_equal(cmd_providers(&o, io.out, io.err), 1);
        io_close(&io);
        assert_int_equal(io.olen, 0);
        assert_non_null(strstr(io.ebuf, "mxlock: providers: no catalogs in /tmp/test_cli."));
        io_free(&io);

        snprintf(path, sizeof(path), "%s/relay.conf", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("description = a test relay\nsource = this test\nchecked = 2026-11-01\n192.0.2.0/24  # the relays\n", f);
        assert_int_equal(fclose(f), 0);
        io_open(&io);
        assert_int_equal(cmd_providers(&o, io.out, io.err), 0);
        io_close(&io);
        assert_string_equal(io.obuf, "NAME   ENTRIES  CHECKED     DESCRIPTION\n"
                                     "relay        1  2026-11-01  a test relay\n");
        io_free(&io);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* report: the summary on out, the corrupt-line count on err */
static void test_report_output(void **state)
{
        char path[] = "/tmp/test_cli.XXXXXX";
        struct args *a;
        struct report_opts o;
        struct io io;
        int fd;

        (void) state;
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_true(dprintf(fd, "{\"ts\":\"2026-11-23T22:28:42.123456Z\",\"event\":\"refused\",\"policy\":"
                            "\"inbound-smtp\",\"mode\":\"enforce\",\"action\":\"reject\",\"family\":\"ipv4\","
                            "\"src\":\"198.51.100.7\",\"sport\":40312,\"dst\":\"203.0.113.1\",\"dport\":25,"
                            "\"count\":1,\"reason\":\"not-allowed\"}\nnot json\n") > 0);
        assert_int_equal(close(fd), 0);
        a = args_new("report", "--format", "json", path, NULL);
        io_open(&io);
        assert_int_equal(report_parse(&o, &cli, a->argc, a->argv, io.out, io.err), CLI_RUN);
        assert_int_equal(cmd_report(&o, io.out, io.err), 0);
        io_close(&io);
        assert_non_null(strstr(io.obuf, "\"attempts\":1,"));
        assert_non_null(strstr(io.obuf, "\"198.51.100.7\""));
        assert_string_equal(io.ebuf, "mxlock: report: 1 corrupt line(s) skipped\n");
        io_free(&io);
        args_free(a);
        assert_int_equal(unlink(path), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_getopt_messages),
                cmocka_unit_test(test_report_parse),
                cmocka_unit_test(test_explain_parse),
                cmocka_unit_test(test_other_parsers),
                cmocka_unit_test(test_reply_parse),
                cmocka_unit_test(test_request_replies),
                cmocka_unit_test(test_status_replies),
                cmocka_unit_test(test_providers),
                cmocka_unit_test(test_report_output),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
