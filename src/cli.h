/* src/cli.h: the convention every mxlock subcommand follows, and what they
 * share: the global options, the configuration loader, the option-error
 * messages and the call to mxlockd. src/mxlock.c only dispatches.
 *
 * A command NAME is two functions and a struct:
 *
 *   struct NAME_opts           what the command line said, typed (numbers
 *                              parsed, times converted, file operands as a
 *                              view into argv: nothing to free)
 *   int NAME_parse(struct NAME_opts *o, const struct cli *cli,
 *                  int argc, char **argv, FILE *out, FILE *err)
 *                              argv[0] is the command's name. Returns
 *                              CLI_RUN to go on, or the exit code: 0 after
 *                              --help (usage on out), 2 after a usage error
 *                              (the message names the option, on err).
 *                              Reads nothing but argv (and the clock).
 *   int cmd_NAME(const struct NAME_opts *o, FILE *out, FILE *err)
 *                              does the work, writes the result to out and
 *                              diagnostics to err; returns the exit code.
 *                              Unit tests call it without argv.
 *
 * src/mxlock.c runs the two in turn with stdout and stderr (CLI_COMMAND).
 * Commands that reach mxlockd do it through cli_call, which a test points at
 * a fake daemon (struct cli's call). */
#ifndef MXLOCK_CLI_H
#define MXLOCK_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "prefix.h"

#define CLI_RUN (-1)            /* NAME_parse: go on with cmd_NAME */
#define CLI_EXIT_USAGE 2

/* The transport to mxlockd: control_call's signature (src/control.h). */
typedef int (*cli_call_fn)(const char *path, const char *request, int timeout_ms, char **ret_reply);

/* Global options, handed to every command. */
struct cli {
        const char *progname;
        const char *config_path;
        bool config_given;      /* -c was on the command line */
        cli_call_fn call;       /* NULL: control_call */
};

/* Load the configuration for a command that can live without it: a missing
 * default config is silent, any other failure is a warning on err. */
struct config *cli_load_config(const struct cli *cli, FILE *err);

/* getopt_long for a command's argv, with glibc's own error messages (they
 * name the option and start with argv[0]) written to err instead of stderr.
 * Returns what getopt_long returns; '?' for every error. Reset optind to 0
 * before the first call. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, FILE *err);

/* Send request to mxlockd over the configured control socket (cli->call, or
 * control_call). On failure says why on err (not running, permission,
 * errno) and returns negative errno. */
int cli_call(const struct cli *cli, const char *request, char **ret_reply, FILE *err);

/* A reply of mxlockd's control socket (src/control.h), read with the JSON
 * reader (src/json.h): one object with "ok" and, on failure, "error";
 * status-text's reply is plain text and not JSON. */
struct cli_reply {
        struct json_doc *doc;   /* the parsed reply; NULL when it is not JSON */
        bool ok;                /* "ok" is true */
        bool failed;            /* "ok" is false */
        const char *error;      /* "error", decoded; NULL when absent */
};

/* Read text into *ret. Returns 0 (a JSON reply), -EINVAL (not JSON: doc
 * NULL, ok and failed false) or -ENOMEM. */
int cli_reply_parse(const char *text, struct cli_reply *ret);
void cli_reply_free(struct cli_reply *r);

/* The table's entry for a command: parse, then run with stdout and stderr. */
#define CLI_COMMAND(NAME)                                                               \
        static int run_##NAME(int argc, char **argv, const struct cli *cli)             \
        {                                                                               \
                struct NAME##_opts o;                                                   \
                int r = NAME##_parse(&o, cli, argc, argv, stdout, stderr);              \
                                                                                        \
                return r == CLI_RUN ? cmd_##NAME(&o, stdout, stderr) : r;               \
        }

/* ---- mxlock status, reload, enable, disable, explain (src/cli_daemon.c) ---- */

struct status_opts {
        const struct cli *cli;
        bool json;              /* --json: the daemon's JSON object as it is */
};
int status_parse(struct status_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err);
int cmd_status(const struct status_opts *o, FILE *out, FILE *err);

/* reload, enable and disable: one request, one line saying it is done. */
struct request_opts {
        const struct cli *cli;
        const char *request;    /* "reload", "enable", "disable" */
};
int request_parse(struct request_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err);
int cmd_request(const struct request_opts *o, FILE *out, FILE *err);

struct explain_opts {
        const struct cli *cli;
        bool json;
        int family;
        addr128 addr;
        unsigned port;          /* default 25 */
        const char *user;       /* --user: explain an outbound connection of this user (name or uid) */
};
int explain_parse(struct explain_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err);
int cmd_explain(const struct explain_opts *o, FILE *out, FILE *err);

/* ---- the sealed audit log (src/cli_seal.c) ---- */

struct setup_keys_opts {
        const struct cli *cli;
        const char *key_file;   /* NULL: the configuration's seal_key, else the default */
        const char *user;       /* NULL: the configuration's user, else the directory's owner */
        unsigned long long interval;
        bool force;
};
int setup_keys_parse(struct setup_keys_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err);
int cmd_setup_keys(const struct setup_keys_opts *o, FILE *out, FILE *err);

struct verify_opts {
        const struct cli *cli;
        const char *key;        /* --key, else $MXLOCK_VERIFY_KEY; NULL if neither */
        char **files;           /* into argv; nfiles == 0: the configured log */
        size_t nfiles;
};
int verify_parse(struct verify_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err);
int cmd_verify(const struct verify_opts *o, FILE *out, FILE *err);

/* ---- local files (src/cli_report.c, src/cli_providers.c) ---- */

#include "report.h"

struct report_opts {
        const struct cli *cli;
        struct report_options report;   /* since, until, top */
        enum report_format format;
        char **files;                   /* into argv; nfiles == 0: the configured log */
        size_t nfiles;
};
int report_parse(struct report_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err);
int cmd_report(const struct report_opts *o, FILE *out, FILE *err);

struct providers_opts {
        const struct cli *cli;
        const char *dirs;       /* --dir; NULL: the configuration's, else the default */
        const char *name;       /* NULL: list them all */
};
int providers_parse(struct providers_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err);
int cmd_providers(const struct providers_opts *o, FILE *out, FILE *err);

#endif
