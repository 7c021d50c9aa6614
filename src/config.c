/* src/config.c: the mxlock.conf parser (see config.h and docs/design.md).
 *
 * A hand-written line parser: every error names FILE:LINE and stops the
 * load; warnings go to the caller's callback. Nothing here logs. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"


#define CONFIG_LINE_MAX 4096
#define NPORTS 65536
#define SUN_PATH_MAX 107        /* sizeof(sockaddr_un.sun_path) - 1 */

#define DEFAULT_AUDIT_LOG "/var/log/mxlock/audit.jsonl"
#define DEFAULT_CONTROL_SOCKET "/run/mxlock/control.sock"
#define DEFAULT_PROVIDER_DIRS CONFIG_DEFAULT_PROVIDER_DIRS
#define DEFAULT_TABLE "mxlock"
#define DEFAULT_QUEUE 25
#define DEFAULT_METRICS_INTERVAL 15
#define DEFAULT_SHARD_MIN 16384      /* see ruleset.h: sharded allowed sets */

enum section { SEC_NONE, SEC_DAEMON, SEC_POLICY };

enum daemon_key {
        DK_MODE, DK_ACTION, DK_FAILURE, DK_QUEUE, DK_QUEUES, DK_TABLE,
        DK_AUDIT_LOG, DK_USER, DK_CONTROL_SOCKET, DK_CONTROL_GROUP,
        DK_PROVIDER_DIRS, DK_METRICS_FILE, DK_METRICS_INTERVAL, DK_JOURNAL, DK_SHARD_MIN,
        DK_SEAL_KEY,
        DK_COUNT
};

static const struct {
        const char *name;
        bool once;              /* set twice is an error, not a warning */
} daemon_keys[DK_COUNT] = {
        [DK_MODE] = { "mode", true },
        [DK_ACTION] = { "action", true },
        [DK_FAILURE] = { "failure", true },
        [DK_QUEUE] = { "queue", true },
        [DK_QUEUES] = { "queues", false },
        [DK_TABLE] = { "table", true },
        [DK_AUDIT_LOG] = { "audit_log", false },
        [DK_USER] = { "user", false },
        [DK_CONTROL_SOCKET] = { "control_socket", false },
        [DK_CONTROL_GROUP] = { "control_group", false },
        [DK_PROVIDER_DIRS] = { "provider_dirs", false },
        [DK_METRICS_FILE] = { "metrics_file", false },
        [DK_METRICS_INTERVAL] = { "metrics_interval", false },
        [DK_JOURNAL] = { "journal", false },
        [DK_SHARD_MIN] = { "shard_min", false },
        [DK_SEAL_KEY] = { "seal_key", true },
};

struct parser {
        struct config *c;
        char *err;
        config_warn_fn warn;
        void *userdata;
        int line;
        enum section sec;
        size_t pol;             /* index of the current policy */
        size_t pol_cap;
        size_t ports_cap;       /* capacity of the current policy's ports */
        uint32_t *port_owner;   /* per direction and port (inbound first, then outbound):
                                 * the index + 1 of the section that locks it, 0: none */
        int *port_line;         /* line where that section named the port */
        int key_line[DK_COUNT]; /* first line each daemon key was set on */
};

static int fail(struct parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Write "FILE:LINE: message" (or "FILE: message" when line is 0) to the error
 * buffer and return -EINVAL. */
static int fail(struct parser *p, int line, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (line > 0)
                n = snprintf(p->err, CONFIG_ERRLEN, "%s:%d: ", p->c->file, line);
        else
                n = snprintf(p->err, CONFIG_ERRLEN, "%s: ", p->c->file);
        if (n >= 0 && n < CONFIG_ERRLEN) {
                va_start(ap, fmt);
                vsnprintf(p->err + n, (size_t)(CONFIG_ERRLEN - n), fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static void warnf(struct parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void warnf(struct parser *p, int line, const char *fmt, ...)
{
        char msg[CONFIG_ERRLEN];
        va_list ap;

        if (!p->warn)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        p->warn(p->c->file, line, msg, p->userdata);
}

static int oom(struct parser *p)
{
        snprintf(p->err, CONFIG_ERRLEN, "%s: out of memory", p->c->file);
        return -ENOMEM;
}

char *cfg_trim(char *s)
{
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                e--;
        *e = '\0';
        return s;
}

static bool is_name_char(char ch, bool upper)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '-' || (upper && ch >= 'A' && ch <= 'Z');
}

/* [a-z0-9_-]{1,max} (or [A-Za-z0-9_-] when upper). */
static bool valid_name(const char *s, size_t max, bool upper)
{
        size_t n = strlen(s);

        if (n == 0 || n > max)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_name_char(s[i], upper))
                        return false;
        return true;
}

/* A user or group name: letters, digits, '_', '-', '.', not starting with
 * '-' (resolved later by whoever drops privileges). */
static bool valid_account(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 32 || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_name_char(s[i], true) && s[i] != '.')
                        return false;
        return true;
}

static bool valid_abs_path(const char *s)
{
        if (s[0] != '/')
                return false;
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* Decimal digits only. Returns 0, -EINVAL (not a number) or -ERANGE. */
static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
        unsigned long v = 0;

        if (!*s)
                return -EINVAL;
        for (const char *q = s; *q; q++) {
                if (*q < '0' || *q > '9')
                        return -EINVAL;
                if (v > max)
                        continue;       /* keep checking syntax; already too big */
                v = v * 10 + (unsigned long)(*q - '0');
        }
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int set_number(struct parser *p, const char *key, const char *value,
                      unsigned long min, unsigned long max, unsigned long *ret)
{
        int r = parse_uint(value, min, max, ret);

        if (r == -EINVAL)
                return fail(p, p->line, "%s: '%.64s' is not a number", key, value);
        if (r == -ERANGE)
                return fail(p, p->line, "%s %.64s is out of range (%lu-%lu)", key, value, min, max);
        return 0;
}

static int set_string(struct parser *p, char **dst, const char *value)
{
        char *s = strdup(value);

        if (!s)
                return oom(p);
        free(*dst);
        *dst = s;
        return 0;
}

static int parse_bool(const char *v)
{
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < 4; i++) {
                if (!strcasecmp(v, yes[i]))
                        return 1;
                if (!strcasecmp(v, no[i]))
                        return 0;
        }
        return -EINVAL;
}

static int check_provider_dirs(struct parser *p, const char *value)
{
        const char *s = value;

        for (;;) {
                const char *e = strchr(s, ':');
                size_t n = e ? (size_t)(e - s) : strlen(s);

                if (n == 0)
                        return fail(p, p->line, "provider_dirs: empty directory in '%.128s'", value);
                if (s[0] != '/')
                        return fail(p, p->line, "provider_dirs: '%.*s' is not an absolute path",
                                    (int)(n > 128 ? 128 : n), s);
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                                return fail(p, p->line, "provider_dirs: control character in path");
                if (!e)
                        return 0;
                s = e + 1;
        }
}

static int daemon_set(struct parser *p, enum daemon_key k, const char *value)
{
        struct config *c = p->c;
        const char *key = daemon_keys[k].name;
        unsigned long n;
        int r;

        switch (k) {
        case DK_MODE:
                if (!strcasecmp(value, "enforce"))
                        c->mode = MODE_ENFORCE;
                else if (!strcasecmp(value, "monitor"))
                        c->mode = MODE_MONITOR;
                else
                        return fail(p, p->line, "bad mode '%.64s' (allowed: enforce, monitor)", value);
                return 0;
        case DK_ACTION:
                if (!strcasecmp(value, "reject"))
                        c->action = ACTION_REJECT;
                else if (!strcasecmp(value, "drop"))
                        c->action = ACTION_DROP;
                else
                        return fail(p, p->line, "bad action '%.64s' (allowed: reject, drop)", value);
                return 0;
        case DK_FAILURE:
                if (!strcasecmp(value, "closed"))
                        c->failure = FAILURE_CLOSED;
                else if (!strcasecmp(value, "open"))
                        c->failure = FAILURE_OPEN;
                else
                        return fail(p, p->line, "bad failure '%.64s' (allowed: closed, open)", value);
                return 0;
        case DK_QUEUE:
                r = set_number(p, key, value, 0, 65535, &n);
                if (r < 0)
                        return r;
                c->queue = (uint16_t)n;
                return 0;
        case DK_QUEUES:
                r = set_number(p, key, value, 1, 64, &n);
                if (r < 0)
                        return r;
                c->queues = (uint16_t)n;
                return 0;
        case DK_TABLE:
                if (!valid_name(value, TABLE_NAME_MAX - 1, true))
                        return fail(p, p->line, "bad table name '%.64s' (1-%d characters of A-Z a-z 0-9 _ -)",
                                    value, TABLE_NAME_MAX - 1);
                snprintf(c->table, sizeof(c->table), "%s", value);
                return 0;
        case DK_AUDIT_LOG:
        case DK_METRICS_FILE:
                if (!valid_abs_path(value))
                        return fail(p, p->line, "%s: '%.128s' is not an absolute path", key, value);
                return set_string(p, k == DK_AUDIT_LOG ? &c->audit_log : &c->metrics_file, value);
        case DK_CONTROL_SOCKET:
                if (!valid_abs_path(value))
                        return fail(p, p->line, "%s: '%.128s' is not an absolute path", key, value);
                if (strlen(value) > SUN_PATH_MAX)
                        return fail(p, p->line, "%s: path longer than %d bytes", key, SUN_PATH_MAX);
                return set_string(p, &c->control_socket, value);
        case DK_USER:
        case DK_CONTROL_GROUP:
                if (!valid_account(value))
                        return fail(p, p->line, "%s: bad %s name '%.64s'", key,
                                    k == DK_USER ? "user" : "group", value);
                return set_string(p, k == DK_USER ? &c->user : &c->control_group, value);
        case DK_PROVIDER_DIRS:
                r = check_provider_dirs(p, value);
                if (r < 0)
                        return r;
                return set_string(p, &c->provider_dirs, value);
        case DK_METRICS_INTERVAL:
                r = set_number(p, key, value, 1, 86400, &n);
                if (r < 0)
                        return r;
                c->metrics_interval = (unsigned)n;
                return 0;
        case DK_SHARD_MIN:
                r = set_number(p, key, value, 0, 100000000, &n);
                if (r < 0)
                        return r;
                c->shard_min = (size_t)n;
                return 0;
        case DK_SEAL_KEY:
                if (!valid_abs_path(value))
                        return fail(p, p->line, "%s: '%.128s' is not an absolute path", key, value);
                return set_string(p, &c->seal_key, value);
        case DK_JOURNAL:
                r = parse_bool(value);
                if (r < 0)
                        return fail(p, p->line, "bad journal '%.64s' (allowed: yes, no, true, false, on, off, 1, 0)",
                                    value);
                c->journal = r;
                return 0;
        case DK_COUNT:
                break;
        }
        return -EINVAL;
}

static int daemon_key(struct parser *p, const char *key, const char *value)
{
        for (int k = 0; k < DK_COUNT; k++) {
                if (strcmp(key, daemon_keys[k].name))
                        continue;
                if (!*value)
                        return fail(p, p->line, "empty value for '%s'", key);
                if (p->key_line[k]) {
                        if (daemon_keys[k].once)
                                return fail(p, p->line, "%s set twice (first at line %d)",
                                            key, p->key_line[k]);
                        warnf(p, p->line, "%s set twice (first at line %d), last one wins",
                              key, p->key_line[k]);
                } else {
                        p->key_line[k] = p->line;
                }
                return daemon_set(p, (enum daemon_key)k, value);
        }
        return fail(p, p->line, "unknown key '%.64s' in [daemon]", key);
}

static bool is_sep(char ch)
{
        return ch == ' ' || ch == '\t' || ch == ',' || ch == '\r' || ch == '\n' ||
               ch == '\v' || ch == '\f';
}

int cfg_list_append_words(struct cfg_list *l, const char *value, const char *file, int line)
{
        const char *s = value;

        while (*s) {
                const char *e;
                char *w;

                while (*s && is_sep(*s))
                        s++;
                if (!*s)
                        break;
                for (e = s; *e && !is_sep(*e); e++)
                        ;
                if (l->n == l->cap) {
                        size_t cap = l->cap ? l->cap * 2 : 8;
                        struct cfg_item *v = realloc(l->v, cap * sizeof(*v));

                        if (!v)
                                return -ENOMEM;
                        l->v = v;
                        l->cap = cap;
                }
                w = strndup(s, (size_t)(e - s));
                if (!w)
                        return -ENOMEM;
                l->v[l->n++] = (struct cfg_item){ .text = w, .file = file, .line = line };
                s = e;
        }
        return 0;
}

void cfg_list_free(struct cfg_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].text);
        free(l->v);
        l->v = NULL;
        l->n = l->cap = 0;
}

static int policy_add_port(struct parser *p, unsigned port)
{
        struct cfg_policy *pol = &p->c->policies[p->pol];
        size_t slot = (pol->outbound ? NPORTS : 0) + port;
        uint32_t owner = p->port_owner[slot];
        const char *kind = pol->outbound ? "outbound" : "policy";

        if (owner == p->pol + 1)
                return 0;               /* named twice in one section: merged */
        if (owner)
                return fail(p, p->line, "port %u is locked by %s '%s' (line %d) and by %s '%s'", port, kind,
                            p->c->policies[owner - 1].name, p->port_line[slot], kind, pol->name);
        if (pol->nports == p->ports_cap) {
                size_t cap = p->ports_cap ? p->ports_cap * 2 : 8;
                uint16_t *v = realloc(pol->ports, cap * sizeof(*v));

                if (!v)
                        return oom(p);
                pol->ports = v;
                p->ports_cap = cap;
        }
        pol->ports[pol->nports++] = (uint16_t)port;
        p->port_owner[slot] = (uint32_t)(p->pol + 1);
        p->port_line[slot] = p->line;
        return 0;
}

/* "25", "9095-9096" */
static int policy_port_word(struct parser *p, const char *w)
{
        char buf[32];
        unsigned long lo, hi;
        char *dash;
        int r;

        if (strlen(w) >= sizeof(buf))
                return fail(p, p->line, "ports: '%.64s' is not a port or range", w);
        snprintf(buf, sizeof(buf), "%s", w);
        dash = strchr(buf, '-');
        if (dash)
                *dash = '\0';
        r = parse_uint(buf, 1, 65535, &lo);
        if (r == 0 && dash)
                r = parse_uint(dash + 1, 1, 65535, &hi);
        else
                hi = lo;
        if (r == -EINVAL)
                return fail(p, p->line, "ports: '%.64s' is not a port number or range", w);
        if (r == -ERANGE)
                return fail(p, p->line, "ports: '%.64s' is out of range (1-65535)", w);
        if (lo > hi)
                return fail(p, p->line, "ports: range '%.64s' runs backwards", w);
        for (unsigned long port = lo; port <= hi; port++) {
                r = policy_add_port(p, (unsigned)port);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int policy_ports(struct parser *p, const char *value)
{
        struct cfg_list words = { 0 };
        int r;

        r = cfg_list_append_words(&words, value, p->c->file, p->line);
        if (r < 0) {
                r = oom(p);
                goto out;
        }
        if (words.n == 0) {
                r = fail(p, p->line, "empty value for 'ports'");
                goto out;
        }
        for (size_t i = 0; i < words.n; i++) {
                r = policy_port_word(p, words.v[i].text);
                if (r < 0)
                        goto out;
        }
out:
        cfg_list_free(&words);
        return r;
}

static int policy_key(struct parser *p, const char *key, const char *value)
{
        struct cfg_policy *pol = &p->c->policies[p->pol];
        struct cfg_list *l;
        size_t before;

        if (!strcmp(key, "ports"))
                return policy_ports(p, value);
        if (!strcmp(key, "providers"))
                l = &pol->providers;
        else if (pol->outbound && !strcmp(key, "to"))
                l = &pol->allow;
        else if (pol->outbound && !strcmp(key, "users"))
                l = &pol->users;
        else if (!pol->outbound && !strcmp(key, "allow"))
                l = &pol->allow;
        else if (!pol->outbound && !strcmp(key, "deny"))
                l = &pol->deny;
        else if (pol->outbound)
                return fail(p, p->line, "unknown key '%.64s' in [outbound %s] (allowed: ports, to, providers, users)",
                            key, pol->name);
        else
                return fail(p, p->line, "unknown key '%.64s' in [policy %s]", key, pol->name);
        before = l->n;
        if (cfg_list_append_words(l, value, p->c->file, p->line) < 0)
                return oom(p);
        if (l->n == before)
                return fail(p, p->line, "empty value for '%s'", key);
        return 0;
}

static int cmp_u16(const void *a, const void *b)
{
        uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

        return (x > y) - (x < y);
}

/* The current policy's section ended: check it is complete. */
static int policy_finish(struct parser *p)
{
        struct cfg_policy *pol;

        if (p->sec != SEC_POLICY)
                return 0;
        pol = &p->c->policies[p->pol];
        if (pol->nports == 0)
                return fail(p, pol->line, "%s '%s' has no ports", pol->outbound ? "outbound" : "policy",
                            pol->name);
        if (pol->outbound && pol->providers.n == 0 && pol->allow.n == 0)
                return fail(p, pol->line, "outbound '%s' allows no destination (set to or providers; "
                            "a section that refuses everything is an error)", pol->name);
        if (pol->providers.n == 0 && pol->allow.n == 0)
                return fail(p, pol->line, "policy '%s' allows no source (set providers or allow; "
                            "a policy that refuses everything is an error)", pol->name);
        qsort(pol->ports, pol->nports, sizeof(pol->ports[0]), cmp_u16);
        return 0;
}

static int section_header(struct parser *p, char *s)
{
        struct config *c = p->c;
        struct cfg_policy *pol;
        char *end, *inner, *name;
        const char *kind;
        bool outbound;
        int r;

        r = policy_finish(p);
        if (r < 0)
                return r;
        end = strchr(s, ']');
        if (!end)
                return fail(p, p->line, "section header lacks ']'");
        if (*cfg_trim(end + 1))
                return fail(p, p->line, "junk after section header: '%.64s'", cfg_trim(end + 1));
        *end = '\0';
        inner = cfg_trim(s + 1);
        if (!strcmp(inner, "daemon")) {
                p->sec = SEC_DAEMON;
                return 0;
        }
        if (!strncmp(inner, "policy", 6) && (!inner[6] || inner[6] == ' ' || inner[6] == '\t'))
                outbound = false;
        else if (!strncmp(inner, "outbound", 8) && (!inner[8] || inner[8] == ' ' || inner[8] == '\t'))
                outbound = true;
        else
                return fail(p, p->line, "unknown section [%.64s] (allowed: [daemon], [policy NAME], "
                            "[outbound NAME])", inner);
        kind = outbound ? "outbound" : "policy";
        name = cfg_trim(inner + strlen(kind));
        if (!*name)
                return fail(p, p->line, "[%s] needs a name: [%s NAME]", kind, kind);
        if (!valid_name(name, POLICY_NAME_MAX - 1, false))
                return fail(p, p->line, "bad %s name '%.64s' (1-%d characters of a-z 0-9 _ -)", kind,
                            name, POLICY_NAME_MAX - 1);
        /* one namespace: the name names the section's kernel objects */
        for (size_t i = 0; i < c->npolicies; i++)
                if (!strcmp(c->policies[i].name, name))
                        return fail(p, p->line, "duplicate %s '%s' (first at line %d)", kind,
                                    name, c->policies[i].line);
        if (c->npolicies == p->pol_cap) {
                size_t cap = p->pol_cap ? p->pol_cap * 2 : 4;
                struct cfg_policy *v = realloc(c->policies, cap * sizeof(*v));

                if (!v)
                        return oom(p);
                c->policies = v;
                p->pol_cap = cap;
        }
        pol = &c->policies[c->npolicies];
        memset(pol, 0, sizeof(*pol));
        snprintf(pol->name, sizeof(pol->name), "%s", name);
        pol->line = p->line;
        pol->outbound = outbound;
        p->pol = c->npolicies++;
        p->ports_cap = 0;
        p->sec = SEC_POLICY;
        return 0;
}

static int parse_line(struct parser *p, char *line)
{
        char *hash, *s, *eq, *key, *value;

        hash = strchr(line, '#');
        if (hash)
                *hash = '\0';
        s = cfg_trim(line);
        if (!*s)
                return 0;
        if (*s == '[')
                return section_header(p, s);
        eq = strchr(s, '=');
        if (!eq)
                return fail(p, p->line, "missing '=' in '%.64s' (expected key = value)", s);
        *eq = '\0';
        key = cfg_trim(s);
        value = cfg_trim(eq + 1);
        if (!*key)
                return fail(p, p->line, "missing key before '='");
        if (p->sec == SEC_NONE)
                return fail(p, p->line, "key '%.64s' outside any section (start with [daemon] or [policy NAME])",
                            key);
        if (p->sec == SEC_DAEMON)
                return daemon_key(p, key, value);
        return policy_key(p, key, value);
}

static int finish(struct parser *p)
{
        struct config *c = p->c;
        int r;

        r = policy_finish(p);
        if (r < 0)
                return r;
        if (c->npolicies == 0)
                return fail(p, 0, "no [policy] or [outbound] section");
        if ((unsigned)c->queue + c->queues - 1 > 65535) {
                int line = p->key_line[DK_QUEUE] > p->key_line[DK_QUEUES] ?
                           p->key_line[DK_QUEUE] : p->key_line[DK_QUEUES];

                return fail(p, line, "queues %u starting at queue %u go beyond 65535",
                            c->queues, c->queue);
        }
        return 0;
}

static int set_defaults(struct config *c)
{
        c->mode = MODE_ENFORCE;
        c->action = ACTION_REJECT;
        c->failure = FAILURE_CLOSED;
        c->queue = DEFAULT_QUEUE;
        c->queues = 1;
        snprintf(c->table, sizeof(c->table), "%s", DEFAULT_TABLE);
        c->metrics_interval = DEFAULT_METRICS_INTERVAL;
        c->shard_min = DEFAULT_SHARD_MIN;
        c->journal = false;
        c->audit_log = strdup(DEFAULT_AUDIT_LOG);
        c->control_socket = strdup(DEFAULT_CONTROL_SOCKET);
        c->provider_dirs = strdup(DEFAULT_PROVIDER_DIRS);
        if (!c->audit_log || !c->control_socket || !c->provider_dirs)
                return -ENOMEM;
        return 0;
}

int config_load(const char *path, struct config **ret, char err[CONFIG_ERRLEN],
                config_warn_fn warn, void *userdata)
{
        struct parser p = { .err = err, .warn = warn, .userdata = userdata };
        struct config *c = NULL;
        char *buf = NULL;
        size_t bufsz = 0;
        ssize_t n;
        FILE *f = NULL;
        int r;

        err[0] = '\0';
        c = calloc(1, sizeof(*c));
        if (!c) {
                snprintf(err, CONFIG_ERRLEN, "%s: out of memory", path);
                return -ENOMEM;
        }
        c->file = strdup(path);
        if (!c->file || set_defaults(c) < 0) {
                snprintf(err, CONFIG_ERRLEN, "%s: out of memory", path);
                r = -ENOMEM;
                goto fail;
        }
        p.c = c;
        p.port_owner = calloc(2 * NPORTS, sizeof(*p.port_owner));
        p.port_line = calloc(2 * NPORTS, sizeof(*p.port_line));
        if (!p.port_owner || !p.port_line) {
                r = oom(&p);
                goto fail;
        }

        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                snprintf(err, CONFIG_ERRLEN, "%s: %s", path, strerror(-r));
                goto fail;
        }

        errno = 0;
        while ((n = getline(&buf, &bufsz, f)) >= 0) {
                size_t len = (size_t)n;
                char *line = buf;

                p.line++;
                if (len > 0 && buf[len - 1] == '\n')
                        buf[--len] = '\0';
                if (len > 0 && buf[len - 1] == '\r')
                        buf[--len] = '\0';
                if (strlen(buf) != len) {
                        r = fail(&p, p.line, "NUL byte in line");
                        goto fail;
                }
                if (len > CONFIG_LINE_MAX) {
                        r = fail(&p, p.line, "line longer than %d bytes", CONFIG_LINE_MAX);
                        goto fail;
                }
                if (p.line == 1 && !strncmp(line, "\xef\xbb\xbf", 3))
                        line += 3;      /* UTF-8 byte order mark */
                r = parse_line(&p, line);
                if (r < 0)
                        goto fail;
        }
        if (ferror(f)) {
                r = -EIO;
                if (errno)
                        r = -errno;
                snprintf(err, CONFIG_ERRLEN, "%s: %s", path, strerror(-r));
                goto fail;
        }
        r = finish(&p);
        if (r < 0)
                goto fail;

        *ret = c;
        c = NULL;
        r = 0;
fail:
        if (f)
                fclose(f);
        free(buf);
        free(p.port_owner);
        free(p.port_line);
        config_free(c);
        return r;
}

void config_free(struct config *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->npolicies; i++) {
                free(c->policies[i].ports);
                cfg_list_free(&c->policies[i].providers);
                cfg_list_free(&c->policies[i].allow);
                cfg_list_free(&c->policies[i].deny);
                cfg_list_free(&c->policies[i].users);
        }
        free(c->policies);
        free(c->file);
        free(c->audit_log);
        free(c->user);
        free(c->control_socket);
        free(c->control_group);
        free(c->provider_dirs);
        free(c->metrics_file);
        free(c->seal_key);
        free(c);
}

const char *cfg_mode_name(enum cfg_mode m)
{
        switch (m) {
        case MODE_ENFORCE:
                return "enforce";
        case MODE_MONITOR:
                return "monitor";
        }
        return "unknown";
}

const char *cfg_action_name(enum cfg_action a)
{
        switch (a) {
        case ACTION_REJECT:
                return "reject";
        case ACTION_DROP:
                return "drop";
        }
        return "unknown";
}

const char *cfg_failure_name(enum cfg_failure f)
{
        switch (f) {
        case FAILURE_CLOSED:
                return "closed";
        case FAILURE_OPEN:
                return "open";
        }
        return "unknown";
}

bool cfg_domain_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];

                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                      ch == '-' || ch == '_' || ch == '.'))
                        return false;
                if (ch == '.' && s[i + 1] == '.')
                        return false;
        }
        return true;
}
