/* src/cli.h: what the mxlock subcommands share: the global options and one
 * entry point per command (src/mxlock.c dispatches). */
#ifndef MXLOCK_CLI_H
#define MXLOCK_CLI_H

#include <stdbool.h>

#include "config.h"

/* Global options, handed to every command. */
struct cli {
        const char *progname;
        const char *config_path;
        bool config_given;      /* -c was on the command line */
};

/* Load the configuration for a command that can live without it: a missing
 * default config is silent, any other failure is a warning. */
struct config *cli_load_config(const struct cli *cli);

/* Commands talking to mxlockd or the kernel (src/cli_daemon.c). */
int cmd_status(int argc, char **argv, const struct cli *cli);
int cmd_reload(int argc, char **argv, const struct cli *cli);
int cmd_enable(int argc, char **argv, const struct cli *cli);
int cmd_disable(int argc, char **argv, const struct cli *cli);
int cmd_explain(int argc, char **argv, const struct cli *cli);

/* The sealed audit log (src/cli_seal.c). */
int cmd_setup_keys(int argc, char **argv, const struct cli *cli);
int cmd_verify(int argc, char **argv, const struct cli *cli);

/* Local files (src/cli_report.c, src/cli_providers.c). */
int cmd_report(int argc, char **argv, const struct cli *cli);
int cmd_providers(int argc, char **argv, const struct cli *cli);

#endif
