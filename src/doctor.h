/* src/doctor.h: `mxlock doctor DOMAIN...`: the onboarding checklist of an
 * email-security provider, run locally: every MX of each domain lands in
 * the allowed ranges (an MX elsewhere is a bypass hole), the domain's SPF
 * authorises the provider, the mxlock table is loaded with non-empty sets,
 * something listens on each locked port, and the catalogs are not stale. */
#ifndef MXLOCK_DOCTOR_H
#define MXLOCK_DOCTOR_H

#define DOCTOR_DEFAULT_STALE_DAYS 180

/* The `mxlock doctor` command: argv[0] is "doctor", options and domains
 * follow. Prints a PASS/WARN/FAIL checklist (or, with --format json, one
 * JSON object) to stdout. Returns the exit code: 0 no failure (warnings
 * allowed), 1 at least one FAIL, 2 usage error. */
int doctor_main(int argc, char **argv, const char *config_path);

#endif
