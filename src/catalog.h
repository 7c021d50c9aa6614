/* src/catalog.h: provider catalogs (rules/providers/NAME.conf): a
 * description, a source, an optional spf record and one address or prefix
 * per line with an optional comment naming the host or role. */
#ifndef MXLOCK_CATALOG_H
#define MXLOCK_CATALOG_H

#include <stddef.h>

#include "config.h"

#define CATALOG_NAME_MAX 64

struct catalog_entry {
        char *text;             /* "52.208.1.91" or "74.125.0.0/16" as written */
        char *comment;          /* the trailing comment, or NULL */
        int line;
};

struct catalog {
        char name[CATALOG_NAME_MAX];
        char *path;             /* file it was read from */
        char *description;
        char *source;
        char *spf;              /* NULL when none */
        char *checked;          /* "YYYY-MM-DD" the ranges were checked, or NULL */
        struct catalog_entry *v;
        size_t n, cap;
};

/* Find NAME.conf in the colon-separated dirs (the last dir that has it wins:
 * /etc/mxlock/providers.d overrides /var/lib/mxlock/providers, which
 * overrides /usr/share/mxlock/providers) and parse it.
 * Returns 0, -ENOENT when no dir has it, or another negative errno with
 * "FILE:LINE: message" in err. Entries are only syntax-checked here. */
int catalog_load(const char *dirs, const char *name, struct catalog **ret, char err[CONFIG_ERRLEN]);

/* Only find the file catalog_load would read: *ret_path (malloc'd). */
int catalog_find(const char *dirs, const char *name, char **ret_path, char err[CONFIG_ERRLEN]);

/* Parse one catalog file. */
int catalog_parse_file(const char *path, const char *name, struct catalog **ret, char err[CONFIG_ERRLEN]);

/* Call cb for each catalog name available in dirs (each name once, sorted). */
int catalog_list(const char *dirs, void (*cb)(const char *name, const char *path, void *userdata), void *userdata);

void catalog_free(struct catalog *c);

#endif
