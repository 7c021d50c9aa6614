/* src/export.h: `mxlock export`: the audit log mapped, one record per line,
 * to the Elastic Common Schema (ECS 8.11) or to OCSF 1.1.0 Network Activity,
 * for SIEMs and log shippers; --follow keeps reading the live log across
 * rotation like `tail -F`. The mapping is in docs/operations.md ("Export"). */
#ifndef MXLOCK_EXPORT_H
#define MXLOCK_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EXPORT_ECS_VERSION "8.11.0"
#define EXPORT_OCSF_VERSION "1.1.0"
#define EXPORT_PRODUCT "mxlock"
#define EXPORT_PRODUCT_VERSION "0.1.0"

enum export_format {
        EXPORT_ECS,
        EXPORT_OCSF,
};

/* What every mapped record carries besides the audit line itself. */
struct export_ctx {
        enum export_format fmt;
        const char *hostname;   /* observer.hostname / the destination host */
        int64_t since;          /* µs; records before it are skipped */
        bool has_since;
};

/* Map one audit line (without its newline; decoded in place, so modified)
 * and write the mapped record with its newline to out. Returns 1 when a
 * record was written, 0 when the line is skipped (empty, before --since,
 * a seal line, an event the format does not map), -EINVAL when the line is
 * corrupt, -EIO when out failed. */
int export_line(const struct export_ctx *ctx, char *line, size_t len, FILE *out);

/* The `mxlock export` command, in the convention of src/cli.h: argv[0] is
 * "export". cmd_export returns the exit code: 0, 1 when a file could not be
 * read or output failed, 2 usage error. */
struct cli;
struct export_opts {
        struct export_ctx ctx;  /* fmt, since (hostname: set by cmd_export) */
        char host[256];         /* --hostname; empty: this host's name */
        bool follow;
        const char *live_log;   /* read when no FILE is given; the caller sets it */
        char **files;           /* into argv */
        size_t nfiles;
};
int export_parse(struct export_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err);
int cmd_export(const struct export_opts *o, FILE *out, FILE *err);

#endif
