/* src/doctor.h: `mxlock doctor DOMAIN...`: the onboarding checklist of an
 * email-security provider, run locally: every MX of each domain lands in
 * the allowed ranges (an MX elsewhere is a bypass hole), the domain's SPF
 * authorises the provider, the mxlock table is loaded with non-empty sets,
 * something listens on each locked port, and the catalogs are not stale.
 * With [outbound] sections: each lists users, and Postfix's relayhost (read
 * with postconf, or $MXLOCK_POSTCONF) is an allowed destination of the
 * section that locks its port, its mail_owner one of that section's users. */
#ifndef MXLOCK_DOCTOR_H
#define MXLOCK_DOCTOR_H

#define DOCTOR_DEFAULT_STALE_DAYS 180

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct doctor_opts {
        const char *config_path;
        bool json;                      /* --format json */
        const char *nameserver;         /* NULL: resolv.conf's */
        int timeout_ms;                 /* per DNS try; 0: the resolver's default */
        const char *provider_dirs;      /* NULL: the configuration's */
        unsigned stale_days;
        char **domains;                 /* into argv, checked to be domain names */
        size_t ndomains;
};

/* The `mxlock doctor` command, in the convention of src/cli.h: argv[0] is
 * "doctor", options and domains follow. cmd_doctor writes a PASS/WARN/FAIL
 * checklist (or, with --format json, one JSON object) to out. Returns the
 * exit code: 0 no failure (warnings allowed), 1 at least one FAIL, 2 usage
 * error. */
struct cli;
int doctor_parse(struct doctor_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err);
int cmd_doctor(const struct doctor_opts *o, FILE *out, FILE *err);

#endif
