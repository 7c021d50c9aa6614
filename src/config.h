/* src/config.h: the mxlock.conf parser. Keeps file and line for every value
 * so that every error and warning names FILE:LINE. Does not log: errors come
 * back in a buffer, warnings through a callback. */
#ifndef MXLOCK_CONFIG_H
#define MXLOCK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ERRLEN 512

#ifndef MXLOCK_DATADIR
#define MXLOCK_DATADIR "/usr/share/mxlock"
#endif
#define MXLOCK_STATEDIR "/var/lib/mxlock"
/* Shipped catalogs, then those `mxlock sync` refreshed, then the admin's
 * own: a later directory overrides an earlier one. */
#define CONFIG_DEFAULT_PROVIDER_DIRS \
        MXLOCK_DATADIR "/providers:" MXLOCK_STATEDIR "/providers:/etc/mxlock/providers.d"
#define CONFIG_DEFAULT_AUDIT_LOG "/var/log/mxlock/audit.jsonl"
#define POLICY_NAME_MAX 32      /* [a-z0-9_-], 1..31 characters */
#define TABLE_NAME_MAX 32

enum cfg_mode { MODE_ENFORCE, MODE_MONITOR };
enum cfg_action { ACTION_REJECT, ACTION_DROP };
enum cfg_failure { FAILURE_CLOSED, FAILURE_OPEN };

/* One word of an allow/deny/providers list, with where it was written. */
struct cfg_item {
        char *text;
        const char *file;       /* points into struct config's file name */
        int line;
};

struct cfg_list {
        struct cfg_item *v;
        size_t n, cap;
};

/* A [policy NAME] section (inbound: who may connect to this host's ports)
 * or an [outbound NAME] one (which local users may connect out to which
 * destinations): outbound's `to` is kept in allow. */
struct cfg_policy {
        char name[POLICY_NAME_MAX];
        int line;               /* line of the section header */
        bool outbound;
        uint16_t *ports;        /* sorted, unique */
        size_t nports;
        struct cfg_list providers;
        struct cfg_list allow;  /* CIDR, address, wildcard or host name */
        struct cfg_list deny;
        struct cfg_list users;  /* outbound: local user names or uids */
};

struct config {
        char *file;             /* the path it was read from */
        enum cfg_mode mode;
        enum cfg_action action;
        enum cfg_failure failure;
        uint16_t queue;         /* first NFQUEUE number */
        uint16_t queues;        /* how many queues (1 by default) */
        char table[TABLE_NAME_MAX];
        char *audit_log;
        char *user;             /* NULL: stay as started */
        char *control_socket;   /* unix socket for the mxlock CLI */
        char *control_group;    /* NULL: root only */
        char *provider_dirs;    /* colon-separated catalog dirs, later ones override */
        char *metrics_file;     /* NULL: no metrics */
        unsigned metrics_interval; /* seconds */
        char *seal_key;         /* NULL: the audit log is not sealed */
        bool journal;           /* also send refused attempts to the journal */
        size_t shard_min;       /* allowed sets this big are sharded in the kernel; 0: never */
        struct cfg_policy *policies;
        size_t npolicies;
};

typedef void (*config_warn_fn)(const char *file, int line, const char *msg, void *userdata);

/* Parse FILE. Returns 0 and a new config in *ret, or a negative errno with
 * "FILE:LINE: message" (or "FILE: message") in err; warnings go to warn
 * (NULL: dropped). Syntax and values are
 * checked here; whether prefixes, host names and providers resolve is the
 * policy module's work. */
int config_load(const char *path, struct config **ret, char err[CONFIG_ERRLEN],
                config_warn_fn warn, void *userdata);

/* Free a config; accepts NULL. */
void config_free(struct config *c);

/* Split a list value on spaces and commas and append its words. */
int cfg_list_append_words(struct cfg_list *l, const char *value, const char *file, int line);
void cfg_list_free(struct cfg_list *l);

/* Strip spaces, tabs and a trailing CR in place; returns the start. */
char *cfg_trim(char *s);

/* A DNS name: letters, digits, '-', '_' and single dots, at most 253. */
bool cfg_domain_valid(const char *s);

const char *cfg_mode_name(enum cfg_mode m);
const char *cfg_action_name(enum cfg_action a);
const char *cfg_failure_name(enum cfg_failure f);

#endif
