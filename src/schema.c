/* src/schema.c: the event table and the typed emitters (see schema.h). The
 * field order of each record is the order the daemon and sync have always
 * written; tests/unit/test_schema.c holds golden lines. */
#include "schema.h"

#include <string.h>

const struct schema_event_info schema_events[SCHEMA_EVENT_COUNT] = {
        [SCHEMA_REFUSED] = { "refused", SCHEMA_KIND_ATTEMPT, "mxlockd", "one attempt refused (enforce mode)" },
        [SCHEMA_OBSERVED] = { "observed", SCHEMA_KIND_ATTEMPT, "mxlockd",
                              "monitor mode: this attempt would have been refused" },
        [SCHEMA_SUMMARY] = { "summary", SCHEMA_KIND_ATTEMPT, "mxlockd", "attempts folded into one record" },
        [SCHEMA_MISSED] = { "missed", SCHEMA_KIND_ATTEMPT, "mxlockd",
                            "attempts the kernel refused without mxlockd reading them" },
        [SCHEMA_START] = { "start", SCHEMA_KIND_LIFECYCLE, "mxlockd", "the daemon started" },
        [SCHEMA_STOP] = { "stop", SCHEMA_KIND_LIFECYCLE, "mxlockd", "the daemon stopped, with its totals" },
        [SCHEMA_RELOAD] = { "reload", SCHEMA_KIND_LIFECYCLE, "mxlockd", "a reload, ok or error" },
        [SCHEMA_RESTORED] = { "restored", SCHEMA_KIND_LIFECYCLE, "mxlockd",
                              "the table was removed or altered by someone else and put back" },
        [SCHEMA_ENABLED] = { "enabled", SCHEMA_KIND_LIFECYCLE, "mxlockd", "mxlock enable" },
        [SCHEMA_DISABLED] = { "disabled", SCHEMA_KIND_LIFECYCLE, "mxlockd", "mxlock disable" },
        [SCHEMA_RANGES_CHANGED] = { "ranges-changed", SCHEMA_KIND_CHANGE, "mxlock sync",
                                    "a provider's published ranges changed" },
        [SCHEMA_SEAL] = { "seal", SCHEMA_KIND_SEAL, "audit log", "the sealed chain starts or goes on" },
};

int schema_event_from_name(const char *name)
{
        for (int i = 0; i < SCHEMA_EVENT_COUNT; i++)
                if (strcmp(name, schema_events[i].name) == 0)
                        return i;
        return -1;
}

const char *schema_event_name(enum schema_event ev)
{
        return (unsigned)ev < SCHEMA_EVENT_COUNT ? schema_events[ev].name : NULL;
}

void schema_attempt(struct jline *j, const struct schema_attempt *a)
{
        jline_begin(j, a->tv, schema_events[a->observed ? SCHEMA_OBSERVED : SCHEMA_REFUSED].name);
        jline_str(j, "direction", a->outbound ? "outbound" : "inbound");
        jline_str(j, "policy", a->policy);
        jline_str(j, "mode", a->mode);
        jline_str(j, "action", a->action);
        jline_str(j, "family", a->family);
        jline_str(j, "src", a->src);
        if (a->has_ports)
                jline_uint(j, "sport", a->sport);
        jline_str(j, "dst", a->dst);
        if (a->has_ports)
                jline_uint(j, "dport", a->dport);
        jline_uint(j, "ttl", a->ttl);
        jline_str(j, "iface", a->iface);
        if (a->outbound) {
                if (a->has_uid)
                        jline_uint(j, "uid", a->uid);
                else
                        jline_str(j, "uid", NULL);
                jline_str(j, "user", a->user);
                if (a->unit)
                        jline_str(j, "unit", a->unit);
                if (a->pid > 0)
                        jline_int(j, "pid", a->pid);
                if (a->comm)
                        jline_str(j, "comm", a->comm);
        }
        jline_uint(j, "count", 1);
        jline_str(j, "reason", a->reason ? a->reason : a->denied ? "denied" : "not-allowed");
        if (a->denied)
                jline_str(j, "rule", a->rule);
        if (a->headers)
                jline_str(j, "headers", a->headers);
        jline_end(j);
}

void schema_summary(struct jline *j, const struct schema_summary *s)
{
        jline_begin(j, s->tv, schema_events[SCHEMA_SUMMARY].name);
        jline_str(j, "direction", s->outbound ? "outbound" : "inbound");
        jline_str(j, "policy", s->policy);
        jline_str(j, "mode", s->mode);
        jline_str(j, "action", s->action);
        jline_str(j, "family", s->family);
        jline_str(j, "src", s->src);
        if (s->has_dport)
                jline_uint(j, "dport", s->dport);
        if (s->outbound) {
                if (s->has_uid)
                        jline_uint(j, "uid", s->uid);
                else
                        jline_str(j, "uid", NULL);
                jline_str(j, "user", s->user);
        }
        jline_uint(j, "count", s->count);
        jline_time(j, "first", s->first);
        jline_time(j, "last", s->last);
        jline_str(j, "folded_as", s->folded_as);
        if (s->fold)
                jline_str(j, "fold", s->fold);
        if (s->refused_by)
                jline_str(j, "refused_by", s->refused_by);
        jline_end(j);
}

void schema_missed(struct jline *j, const struct schema_missed *m)
{
        jline_begin(j, m->tv, schema_events[SCHEMA_MISSED].name);
        jline_str(j, "direction", m->outbound ? "outbound" : "inbound");
        jline_str(j, "policy", m->policy);
        jline_str(j, "mode", m->mode);
        jline_str(j, "action", m->action);
        jline_uint(j, "count", m->count);
        jline_str(j, "reason", m->reason);
        jline_end(j);
}

void schema_lifecycle(struct jline *j, const struct schema_lifecycle *l)
{
        jline_begin(j, l->tv, schema_event_name(l->event));
        if (l->result)
                jline_str(j, "result", l->result);
        if (l->error)
                jline_str(j, "error", l->error);
        if (l->has_config) {
                jline_str(j, "mode", l->mode);
                jline_str(j, "action", l->action);
                jline_str(j, "failure", l->failure);
                jline_str(j, "table", l->table);
        }
        if (l->has_policies) {
                jline_uint(j, "policies", l->policies);
                jline_uint(j, "ranges", l->ranges);
        }
        if (l->event == SCHEMA_START) {
                jline_str(j, "version", l->version);
                jline_str(j, "queue_backend", l->queue_backend);
        }
        if (l->event == SCHEMA_STOP) {
                jline_uint(j, "refused", l->refused);
                jline_uint(j, "observed", l->observed);
        }
        jline_end(j);
}

void schema_restored(struct jline *j, const struct schema_restored *r)
{
        jline_begin(j, r->tv, schema_events[SCHEMA_RESTORED].name);
        jline_str(j, "table", r->table);
        jline_str(j, "result", r->ok ? "ok" : "error");
        if (!r->ok)
                jline_str(j, "error", r->error);
        jline_str(j, "reason", "the table was removed or altered by someone else");
        jline_uint(j, "refused_before", r->refused_before);
        jline_end(j);
}

void schema_ranges_changed(struct jline *j, const struct schema_ranges_changed *c)
{
        jline_begin(j, c->tv, schema_events[SCHEMA_RANGES_CHANGED].name);
        jline_str(j, "provider", c->provider);
        jline_str(j, "spf", c->spf);
        jline_raw(j, "added", c->added);
        jline_raw(j, "removed", c->removed);
        if (c->added_omitted)
                jline_uint(j, "added_omitted", c->added_omitted);
        if (c->removed_omitted)
                jline_uint(j, "removed_omitted", c->removed_omitted);
        jline_uint(j, "count_before", c->count_before);
        jline_uint(j, "count_after", c->count_after);
        jline_bool(j, "forced", c->forced);
        jline_raw(j, "guards", c->guards);
        jline_end(j);
}

void schema_seal(struct jline *j, const struct schema_seal *s)
{
        jline_begin(j, s->tv, schema_events[SCHEMA_SEAL].name);
        jline_str(j, "reason", s->reason);
        if (s->lost)
                jline_uint(j, "lost", s->lost);
        jline_str(j, "prev", s->prev);
        jline_str(j, "run", s->run);
        jline_end(j);
}
