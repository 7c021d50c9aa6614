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

static int providers_show(const struct cli *cli, const char *dirs, const char *name, FILE *out, FILE *err)
{
        char msg[CONFIG_ERRLEN];
        struct catalog *c = NULL;
        size_t i, w = 0;
        int r;

        r = catalog_load(dirs, name, &c, msg);
        if (r == -ENOENT) {
                fprintf(err, "%s: providers: no catalog '%s' in %s\n", cli->progname, name, dirs);
                return EXIT_FAILURE;
        }
        if (r < 0) {
                fprintf(err, "%s: providers: %s\n", cli->progname, msg[0] ? msg : strerror(-r));
                return EXIT_FAILURE;
        }
        fprintf(out, "name:        %s\n", c->name);
        fprintf(out, "file:        %s\n", c->path ? c->path : "");
        fprintf(out, "description: %s\n", c->description ? c->description : "");
        fprintf(out, "source:      %s\n", c->source ? c->source : "");
        fprintf(out, "spf:         %s\n", c->spf ? c->spf : "(none)");
        fprintf(out, "checked:     %s\n", c->checked ? c->checked : "(unknown)");
        if (c->provider)
                fprintf(out, "provider:    %s\n", c->provider);
        for (i = 0; i < c->nmx; i++)
                fprintf(out, "mx:          %s\n", c->mx[i]);
        if (c->tenant)
                fprintf(out, "tenant:      %s\n", c->tenant);
        fprintf(out, "entries:     %zu\n", c->n);
        for (i = 0; i < c->n; i++)
                if (strlen(c->v[i].text) > w)
                        w = strlen(c->v[i].text);
        for (i = 0; i < c->n; i++) {
                if (c->v[i].comment && *c->v[i].comment)
                        fprintf(out, "  %-*s  # %s\n", (int)w, c->v[i].text, c->v[i].comment);
                else
                        fprintf(out, "  %s\n", c->v[i].text);
        }
        catalog_free(c);
        return fflush(out) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int providers_list(const struct cli *cli, const char *dirs, FILE *out, FILE *err)
{
        struct name_list l = {};
        size_t i, w = 4;
        int r, ret = EXIT_SUCCESS;

        r = catalog_list(dirs, collect_name, &l);
        if (r < 0 || l.oom) {
                fprintf(err, "%s: providers: %s: %s\n", cli->progname, dirs,
                        strerror(l.oom ? ENOMEM : -r));
                ret = EXIT_FAILURE;
                goto out;
        }
        if (l.n == 0) {
                fprintf(err, "%s: providers: no catalogs in %s\n", cli->progname, dirs);
                ret = EXIT_FAILURE;
                goto out;
        }
        for (i = 0; i < l.n; i++)
                if (strlen(l.v[i]) > w)
                        w = strlen(l.v[i]);
        fprintf(out, "%-*s  ENTRIES  CHECKED     DESCRIPTION\n", (int)w, "NAME");
        for (i = 0; i < l.n; i++) {
                char msg[CONFIG_ERRLEN];
                struct catalog *c = NULL;

                r = catalog_load(dirs, l.v[i], &c, msg);
                if (r < 0) {
                        fprintf(out, "%-*s  %7s  %-10s  (unreadable)\n", (int)w, l.v[i], "-", "-");
                        fprintf(err, "%s: providers: %s\n", cli->progname, msg[0] ? msg : strerror(-r));
                        ret = EXIT_FAILURE;
                        continue;
                }
                fprintf(out, "%-*s  %7zu  %-10s  %s\n", (int)w, c->name, c->n,
                       c->checked ? c->checked : "-", c->description ? c->description : "");
                catalog_free(c);
        }
        if (fflush(out) != 0)
                ret = EXIT_FAILURE;
out:
        for (i = 0; i < l.n; i++)
                free(l.v[i]);
        free(l.v);
        return ret;
}

int providers_parse(struct providers_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
        static const struct option opts[] = {
                { "dir", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        *o = (struct providers_opts){ .cli = cli };
        optind = 0;
        while ((c = cli_getopt(argc, argv, "+d:h", opts, err)) != -1) {
                switch (c) {
                case 'd':
                        o->dirs = optarg;
                        break;
                case 'h':
                        providers_usage(out, cli->progname);
                        return EXIT_SUCCESS;
                default:
                        providers_usage(err, cli->progname);
                        return EXIT_USAGE;
                }
        }
        if (argc - optind > 1) {
                providers_usage(err, cli->progname);
                return EXIT_USAGE;
        }
        o->name = optind < argc ? argv[optind] : NULL;
        return CLI_RUN;
}

int cmd_providers(const struct providers_opts *o, FILE *out, FILE *err)
{
        struct config *cfg = NULL;
        const char *dirs = o->dirs;
        int ret;

        if (!dirs) {
                cfg = cli_load_config(o->cli, err);
                dirs = cfg && cfg->provider_dirs ? cfg->provider_dirs : DEFAULT_PROVIDER_DIRS;
        }
        if (o->name)
                ret = providers_show(o->cli, dirs, o->name, out, err);
        else
                ret = providers_list(o->cli, dirs, out, err);
        config_free(cfg);
        return ret;
}
