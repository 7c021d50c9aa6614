/* src/cli.c: what the mxlock subcommands share (src/cli.h). */
#include <errno.h>
#include <stdio.h>

#include "cli.h"
#include "config.h"

/* Load the configuration for a command that can live without it: a missing
 * default config is silent, any other failure is a warning. Returns the
 * config or NULL. */
struct config *cli_load_config(const struct cli *cli)
{
        char err[CONFIG_ERRLEN];
        struct config *c = NULL;
        int r;

        r = config_load(cli->config_path, &c, err, NULL, NULL);
        if (r < 0) {
                if (cli->config_given || r != -ENOENT)
                        fprintf(stderr, "%s: warning: %s (using defaults)\n", cli->progname, err);
                return NULL;
        }
        return c;
}
