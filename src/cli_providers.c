/* src/cli_providers.c: `mxlock providers`, the catalogs as a table or one in full. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "config.h"

#define DEFAULT_PROVIDER_DIRS CONFIG_DEFAULT_PROVIDER_DIRS
#define EXIT_USAGE 2

/* ------------------------------------------------------------------ */
/* mxlock providers */

struct name_list {
        char **v;
        size_t n, cap;
        bool oom;
};

static void collect_name(const char *name, const char *path, void *userdata)
{
        struct name_list *l = userdata;
        char **nv;

        (void) path;
        if (l->oom)
                return;
        if (l->n == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 16;

                nv = realloc(l->v, ncap * sizeof(*nv));
                if (!nv) {
                        l->oom = true;
                        return;
                }
                l->v = nv;
                l->cap = ncap;
        }
        l->v[l->n] = strdup(name);
        if (!l->v[l->n]) {
                l->oom = true;
                return;
        }
        l->n++;
}

static void providers_usage(FILE *out, const char *progname)
{
        fprintf(out,
                "Usage: %s providers [--dir DIRS] [NAME]\n"
                "\n"
                "Without NAME: list the provider catalogs (name, entries, date checked,\n"
                "description). With NAME: show its description, source, spf, date checked,\n"
                "provider, MX host patterns, what ties mail to your own account, and every\n"
                "entry with its comment.\n"
                "\n"
                "  --dir DIRS   colon-separated catalog directories, later ones override\n"
                "               (default: the configuration's provider_dirs, else\n"
                "               " DEFAULT_PROVIDER_DIRS ")\n",
                progname);
}

static int providers_show(const struct cli *cli, const char *dirs, const char *name)
{
        char err[CONFIG_ERRLEN];
        struct catalog *c = NULL;
        size_t i, w = 0;
        int r;

        r = catalog_load(dirs, name, &c, err);
        if (r == -ENOENT) {
                fprintf(stderr, "%s: providers: no catalog '%s' in %s\n", cli->progname, name, dirs);
                return EXIT_FAILURE;
        }
        if (r < 0) {
                fprintf(stderr, "%s: providers: %s\n", cli->progname, err[0] ? err : strerror(-r));
                return EXIT_FAILURE;
        }
        printf("name:        %s\n", c->name);
        printf("file:        %s\n", c->path ? c->path : "");
        printf("description: %s\n", c->description ? c->description : "");
        printf("source:      %s\n", c->source ? c->source : "");
        printf("spf:         %s\n", c->spf ? c->spf : "(none)");
        printf("checked:     %s\n", c->checked ? c->checked : "(unknown)");
        if (c->provider)
                printf("provider:    %s\n", c->provider);
        for (i = 0; i < c->nmx; i++)
                printf("mx:          %s\n", c->mx[i]);
        if (c->tenant)
                printf("tenant:      %s\n", c->tenant);
        printf("entries:     %zu\n", c->n);
        for (i = 0; i < c->n; i++)
                if (strlen(c->v[i].text) > w)
                        w = strlen(c->v[i].text);
        for (i = 0; i < c->n; i++) {
                if (c->v[i].comment && *c->v[i].comment)
                        printf("  %-*s  # %s\n", (int)w, c->v[i].text, c->v[i].comment);
                else
                        printf("  %s\n", c->v[i].text);
        }
        catalog_free(c);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int providers_list(const struct cli *cli, const char *dirs)
{
        struct name_list l = {};
        size_t i, w = 4;
        int r, ret = EXIT_SUCCESS;

        r = catalog_list(dirs, collect_name, &l);
        if (r < 0 || l.oom) {
                fprintf(stderr, "%s: providers: %s: %s\n", cli->progname, dirs,
                        strerror(l.oom ? ENOMEM : -r));
                ret = EXIT_FAILURE;
                goto out;
        }
        if (l.n == 0) {
                fprintf(stderr, "%s: providers: no catalogs in %s\n", cli->progname, dirs);
                ret = EXIT_FAILURE;
                goto out;
        }
        for (i = 0; i < l.n; i++)
                if (strlen(l.v[i]) > w)
                        w = strlen(l.v[i]);
        printf("%-*s  ENTRIES  CHECKED     DESCRIPTION\n", (int)w, "NAME");
        for (i = 0; i < l.n; i++) {
                char err[CONFIG_ERRLEN];
                struct catalog *c = NULL;

                r = catalog_load(dirs, l.v[i], &c, err);
                if (r < 0) {
                        printf("%-*s  %7s  %-10s  (unreadable)\n", (int)w, l.v[i], "-", "-");
                        fprintf(stderr, "%s: providers: %s\n", cli->progname, err[0] ? err : strerror(-r));
                        ret = EXIT_FAILURE;
                        continue;
                }
                printf("%-*s  %7zu  %-10s  %s\n", (int)w, c->name, c->n,
                       c->checked ? c->checked : "-", c->description ? c->description : "");
                catalog_free(c);
        }
        if (fflush(stdout) != 0)
                ret = EXIT_FAILURE;
out:
        for (i = 0; i < l.n; i++)
                free(l.v[i]);
        free(l.v);
        return ret;
}

int cmd_providers(int argc, char **argv, const struct cli *cli)
{
        static const struct option opts[] = {
                { "dir", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *dir_opt = NULL;
        struct config *cfg = NULL;
        const char *dirs;
        int c, ret;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+d:h", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        dir_opt = optarg;
                        break;
                case 'h':
                        providers_usage(stdout, cli->progname);
                        return EXIT_SUCCESS;
                default:
                        providers_usage(stderr, cli->progname);
                        return EXIT_USAGE;
                }
        }
        if (argc - optind > 1) {
                providers_usage(stderr, cli->progname);
                return EXIT_USAGE;
        }
        if (dir_opt) {
                dirs = dir_opt;
        } else {
                cfg = cli_load_config(cli);
                dirs = cfg && cfg->provider_dirs ? cfg->provider_dirs : DEFAULT_PROVIDER_DIRS;
        }
        if (optind < argc)
                ret = providers_show(cli, dirs, argv[optind]);
        else
                ret = providers_list(cli, dirs);
        config_free(cfg);
        return ret;
}
