/* src/report/format.c: the outputs of `mxlock report`: table, JSON, CSV and HTML
 * (see report.h and internal.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <zlib.h>

#include "json.h"
#include "report/internal.h"

/* ------------------------------------------------------------------ */
/* Output */

struct pp_row {
        const char *policy;     /* NULL: none */
        unsigned port;          /* 0: none */
        uint64_t attempts;
};

struct hour_row {
        int64_t hour;           /* hour index */
        uint64_t attempts;
};

static int pp_cmp(const void *a, const void *b)
{
        const struct pp_row *x = a, *y = b;
        int c;

        if (x->attempts != y->attempts)
                return x->attempts > y->attempts ? -1 : 1;
        if (!x->policy || !y->policy)
                c = !x->policy - !y->policy;
        else
                c = strcmp(x->policy, y->policy);
        if (c)
                return c;
        return (x->port > y->port) - (x->port < y->port);
}

static int hour_cmp(const void *a, const void *b)
{
        const struct hour_row *x = a, *y = b;

        return (x->hour > y->hour) - (x->hour < y->hour);
}

/* Everything the formatters need, sorted. */
struct view {
        struct report *r;
        size_t ntop;
        struct pp_row *pp;
        size_t npp;
        struct hour_row *hours;
        size_t nhours;
        uint64_t hour_max;
        struct reload_error *rerr[REPORT_RELOAD_ERRORS_KEPT];   /* oldest first */
        size_t nrerr;
        size_t ob_users, ob_units, ob_dests;                    /* rows of each outbound table shown */
};

static size_t top_of(const struct report *r, size_t n)
{
        return r->o.top && r->o.top < n ? r->o.top : n;
}

static int view_build(struct report *r, struct view *v)
{
        size_t i, k;
        int e;

        memset(v, 0, sizeof(*v));
        v->r = r;
        e = rpt_sort_sources(r);
        if (e < 0)
                return e;
        v->ntop = top_of(r, r->sources.n);
        if (rpt_sort_ob(&r->ob.users) < 0 || rpt_sort_ob(&r->ob.units) < 0 || rpt_sort_ob(&r->ob.dests) < 0)
                return -ENOMEM;
        v->ob_users = top_of(r, r->ob.users.keys.n);
        v->ob_units = top_of(r, r->ob.units.keys.n);
        v->ob_dests = top_of(r, r->ob.dests.keys.n);

        v->pp = calloc(r->policy_port.n + 1, sizeof(*v->pp));
        v->hours = calloc(r->hours.n + 1, sizeof(*v->hours));
        if (!v->pp || !v->hours)
                return -ENOMEM;
        for (i = 0; i < r->policy_port.cap; i++) {
                uint64_t key = r->policy_port.keys[i], pid;

                if (!r->policy_port.used[i])
                        continue;
                pid = key >> 16;
                v->pp[v->npp].policy = pid ? r->policies.keys[pid - 1] : NULL;
                v->pp[v->npp].port = (unsigned)(key & 0xffff);
                v->pp[v->npp].attempts = r->policy_port.vals[i];
                v->npp++;
        }
        qsort(v->pp, v->npp, sizeof(*v->pp), pp_cmp);
        for (i = 0; i < r->hours.cap; i++) {
                if (!r->hours.used[i])
                        continue;
                v->hours[v->nhours].hour = (int64_t)r->hours.keys[i];
                v->hours[v->nhours].attempts = r->hours.vals[i];
                if (r->hours.vals[i] > v->hour_max)
                        v->hour_max = r->hours.vals[i];
                v->nhours++;
        }
        qsort(v->hours, v->nhours, sizeof(*v->hours), hour_cmp);
        for (k = 0; k < r->nrerr; k++) {
                size_t idx = (r->rerr_next + REPORT_RELOAD_ERRORS_KEPT - r->nrerr + k) % REPORT_RELOAD_ERRORS_KEPT;

                v->rerr[v->nrerr++] = &r->rerr[idx];
        }
        return 0;
}

static void view_free(struct view *v)
{
        free(v->pp);
        free(v->hours);
}

/* Policies of a source, comma-separated, into buf. */
static const char *source_policies(const struct report *r, const struct src_stat *s, char *buf, size_t cap)
{
        size_t len = 0;
        int i;

        buf[0] = '\0';
        for (i = 0; i < 64; i++) {
                const char *name;
                int n;

                if (!(s->policies & (UINT64_C(1) << i)))
                        continue;
                name = i == POLICY_OTHERS_BIT ? "(others)" : r->policies.keys[i];
                n = snprintf(buf + len, cap - len, "%s%s", len ? "," : "", name);
                if (n < 0 || (size_t)n >= cap - len)
                        return buf;
                len += (size_t)n;
        }
        return buf;
}

/* An outbound user as a row names it: "www-data (33)", "33", "(unknown)",
 * or the table's "other" row. */
static const char *ob_user_label(const struct ob_table *t, const struct ob_stat *s, char *buf, size_t cap)
{
        if (s->name == t->other)
                snprintf(buf, cap, "%s", t->other);
        else if (s->has_uid && s->name)
                snprintf(buf, cap, "%s (%" PRIu32 ")", s->name, s->uid);
        else if (s->has_uid)
                snprintf(buf, cap, "%" PRIu32, s->uid);
        else
                snprintf(buf, cap, "%s", s->name ? s->name : REPORT_OB_UNKNOWN);
        return buf;
}

/* An outbound destination as a row names it: "192.0.2.66 port 25", or the
 * row's key (unknown, in summaries, other). */
static const char *ob_dest_label(const struct ob_table *t, uint32_t k, char *buf, size_t cap)
{
        const struct ob_stat *s = &t->v[k];

        if (s->name && s->name != t->other && s->port)
                snprintf(buf, cap, "%s port %u", s->name, s->port);
        else
                snprintf(buf, cap, "%s", s->name && s->name != t->other ? s->name : t->keys.keys[k]);
        return buf;
}

/* Text for a terminal: control characters become '?'. */
static void put_text(FILE *out, const char *s)
{
        for (; *s; s++)
                fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static void put_text_pad(FILE *out, const char *s, int width, bool right)
{
        int n = (int)strlen(s);

        if (right)
                fprintf(out, "%*s", width > n ? width - n : 0, "");
        put_text(out, s);
        if (!right)
                fprintf(out, "%*s", width > n ? width - n : 0, "");
}

/* Strings go through the tree's one JSON writer (json.h); a missing one
 * is written as "" as the report always did. */
static void put_json_str(FILE *out, const char *s)
{
        json_fputs(out, s ? s : "");
}

static void put_json_time(FILE *out, bool has, int64_t t)
{
        char buf[32];

        if (has)
                fprintf(out, "\"%s\"", report_format_time(t, buf));
        else
                fputs("null", out);
}

/* A CSV field: quoted when needed; a leading = + - @ is defused for spreadsheets. */
static void put_csv(FILE *out, const char *s)
{
        bool quote = strpbrk(s, ",\"\r\n") != NULL;
        bool defuse = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
                      s[0] == '\t' || s[0] == '\r';

        if (!quote && !defuse) {
                fputs(s, out);
                return;
        }
        fputc('"', out);
        if (defuse)
                fputc('\'', out);
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', out);
                fputc(*s, out);
        }
        fputc('"', out);
}

static void put_html(FILE *out, const char *s)
{
        for (; *s; s++) {
                switch (*s) {
                case '<': fputs("&lt;", out); break;
                case '>': fputs("&gt;", out); break;
                case '&': fputs("&amp;", out); break;
                case '"': fputs("&quot;", out); break;
                case '\'': fputs("&#39;", out); break;
                default:
                        if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                                fputs("&#xFFFD;", out);
                        else
                                fputc(*s, out);
                }
        }
}

static const char *hour_label(int64_t hour, char *buf)
{
        report_format_time(hour * US_PER_HOUR, buf);
        return buf;
}

static const char *pp_policy(const struct pp_row *p)
{
        return p->policy ? p->policy : "-";
}

static const char *pp_port(const struct pp_row *p, char *buf)
{
        if (!p->port)
                return "-";
        snprintf(buf, 12, "%u", p->port & 0xffff);
        return buf;
}

/* The outbound lock's attempts, apart from the inbound figures: by user,
 * by unit and by destination. */
static void write_table_outbound(const struct view *v, FILE *out)
{
        const struct report *r = v->r;
        const struct report_outbound *ob = &r->ob;
        const struct ob_table *t;
        char t1[32], t2[32], pol[1024], label[400];
        int w;
        size_t i;

        fprintf(out, "\nOutbound: %" PRIu64 " attempts (refused %" PRIu64 ", observed %" PRIu64 ", in summaries %"
                PRIu64 ", missed %" PRIu64 "); user not allowed %" PRIu64 ", destination not allowed %" PRIu64 "\n",
                ob->attempts, ob->ev_attempts[REPORT_EV_REFUSED], ob->ev_attempts[REPORT_EV_OBSERVED],
                ob->ev_attempts[REPORT_EV_SUMMARY], ob->ev_attempts[REPORT_EV_MISSED], ob->not_user, ob->not_dest);

        t = &ob->users;
        fprintf(out, "\nOutbound attempts by user (%zu of %zu)\n", v->ob_users, t->keys.n);
        w = 4;
        for (i = 0; i < v->ob_users; i++) {
                int n = (int)strlen(ob_user_label(t, &t->v[t->order[i]], label, sizeof(label)));

                if (n > w)
                        w = n < 40 ? n : 40;
        }
        if (v->ob_users) {
                fputs("  ", out);
                put_text_pad(out, "USER", w, false);
                fputs("  ATTEMPTS  NOT-USER  NOT-DEST  FIRST SEEN            LAST SEEN             POLICIES\n", out);
        }
        for (i = 0; i < v->ob_users; i++) {
                const struct ob_stat *s = &t->v[t->order[i]];

                fputs("  ", out);
                put_text_pad(out, ob_user_label(t, s, label, sizeof(label)), w, false);
                fprintf(out, "  %8" PRIu64 "  %8" PRIu64 "  %8" PRIu64 "  %-20s  %-20s  ", s->attempts, s->not_user,
                        s->not_dest, report_format_time(s->first, t1), report_format_time(s->last, t2));
                put_text(out, source_policies(r, &(struct src_stat){ .policies = s->policies }, pol, sizeof(pol)));
                fputc('\n', out);
        }

        t = &ob->units;
        fprintf(out, "\nOutbound attempts by unit (%zu of %zu)\n", v->ob_units, t->keys.n);
        w = 4;
        for (i = 0; i < v->ob_units; i++) {
                int n = (int)strlen(t->keys.keys[t->order[i]]);

                if (n > w)
                        w = n < 50 ? n : 50;
        }
        if (v->ob_units) {
                fputs("  ", out);
                put_text_pad(out, "UNIT", w, false);
                fputs("  ATTEMPTS  FIRST SEEN            LAST SEEN\n", out);
        }
        for (i = 0; i < v->ob_units; i++) {
                const struct ob_stat *s = &t->v[t->order[i]];

                fputs("  ", out);
                put_text_pad(out, t->keys.keys[t->order[i]], w, false);
                fprintf(out, "  %8" PRIu64 "  %-20s  %s\n", s->attempts, report_format_time(s->first, t1),
                        report_format_time(s->last, t2));
        }

        t = &ob->dests;
        fprintf(out, "\nOutbound destinations (%zu of %zu)\n", v->ob_dests, t->keys.n);
        w = 11;
        for (i = 0; i < v->ob_dests; i++) {
                int n = (int)strlen(ob_dest_label(t, t->order[i], label, sizeof(label)));

                if (n > w)
                        w = n < 56 ? n : 56;
        }
        if (v->ob_dests) {
                fputs("  ", out);
                put_text_pad(out, "DESTINATION", w, false);
                fputs("  ATTEMPTS  FIRST SEEN            LAST SEEN\n", out);
        }
        for (i = 0; i < v->ob_dests; i++) {
                const struct ob_stat *s = &t->v[t->order[i]];

                fputs("  ", out);
                put_text_pad(out, ob_dest_label(t, t->order[i], label, sizeof(label)), w, false);
                fprintf(out, "  %8" PRIu64 "  %-20s  %s\n", s->attempts, report_format_time(s->first, t1),
                        report_format_time(s->last, t2));
        }
}

static void write_table(const struct view *v, FILE *out)
{
        const struct report *r = v->r;
        char t1[32], t2[32], pol[1024], port[12];
        int srcw = 6, polw = 6;
        size_t i;

        fputs("mxlock audit report\n", out);
        fputs("  files      ", out);
        for (i = 0; i < r->nfiles; i++) {
                if (i)
                        fputs(", ", out);
                put_text(out, r->files[i].path);
                if (r->files[i].error)
                        fprintf(out, " (unreadable: %s)", strerror(-r->files[i].error));
        }
        if (!r->nfiles)
                fputs("(none)", out);
        fputc('\n', out);
        if (r->o.has_since || r->o.has_until)
                fprintf(out, "  filter     %s%s%s%s\n",
                        r->o.has_since ? "since " : "", r->o.has_since ? report_format_time(r->o.since, t1) : "",
                        r->o.has_until ? (r->o.has_since ? ", until " : "until ") : "",
                        r->o.has_until ? report_format_time(r->o.until, t2) : "");
        if (r->has_period)
                fprintf(out, "  period     %s .. %s\n", report_format_time(r->first, t1),
                        report_format_time(r->last, t2));
        else
                fputs("  period     (no records)\n", out);
        fprintf(out, "  lines      %" PRIu64 " read, %" PRIu64 " corrupt skipped, %" PRIu64
                " outside the period\n", r->lines, r->corrupt, r->filtered);
        fputs("  events    ", out);
        for (i = 0; i < REPORT_EV_COUNT; i++)
                fprintf(out, " %s %" PRIu64, rpt_event_name(i), r->events[i]);
        fputc('\n', out);
        fprintf(out, "  attempts   %" PRIu64 " (refused %" PRIu64 ", observed %" PRIu64
                ", in summaries %" PRIu64 ", missed %" PRIu64 ")\n", r->attempts,
                r->ev_attempts[REPORT_EV_REFUSED], r->ev_attempts[REPORT_EV_OBSERVED],
                r->ev_attempts[REPORT_EV_SUMMARY], r->ev_attempts[REPORT_EV_MISSED]);
        if (r->sources_folded)
                fprintf(out, "  sources    more than %d distinct: past that, %" PRIu64 " attempts are counted "
                        "by network (/24, /48)\n", REPORT_SOURCES_MAX, r->sources_folded);
        else
                fprintf(out, "  sources    %zu distinct\n", r->sources.n);

        fprintf(out, "\nTop sources (%zu of %zu)\n", v->ntop, r->sources.n);
        for (i = 0; i < v->ntop; i++) {
                int n = (int)strlen(r->sources.keys[r->order[i]]);

                if (n > srcw)
                        srcw = n < 45 ? n : 45;
        }
        if (v->ntop) {
                fputs("  ", out);
                put_text_pad(out, "SOURCE", srcw, false);
                fputs("  ATTEMPTS  FIRST SEEN            LAST SEEN             POLICIES\n", out);
        }
        for (i = 0; i < v->ntop; i++) {
                uint32_t k = r->order[i];
                const struct src_stat *s = &r->src[k];

                fputs("  ", out);
                put_text_pad(out, r->sources.keys[k], srcw, false);
                fprintf(out, "  %8" PRIu64 "  %-20s  %-20s  ", s->attempts,
                        report_format_time(s->first, t1), report_format_time(s->last, t2));
                put_text(out, source_policies(r, s, pol, sizeof(pol)));
                fputc('\n', out);
        }

        fputs("\nAttempts by policy and port\n", out);
        for (i = 0; i < v->npp; i++) {
                int n = (int)strlen(pp_policy(&v->pp[i]));

                if (n > polw)
                        polw = n < 40 ? n : 40;
        }
        if (v->npp) {
                fputs("  ", out);
                put_text_pad(out, "POLICY", polw, false);
                fputs("   PORT  ATTEMPTS\n", out);
        }
        for (i = 0; i < v->npp; i++) {
                fputs("  ", out);
                put_text_pad(out, pp_policy(&v->pp[i]), polw, false);
                fprintf(out, "  %5s  %8" PRIu64 "\n", pp_port(&v->pp[i], port), v->pp[i].attempts);
        }

        fputs("\nAttempts per hour (UTC)\n", out);
        for (i = 0; i < v->nhours; i++) {
                uint64_t w = v->hour_max ? (v->hours[i].attempts * 50 + v->hour_max - 1) / v->hour_max : 0;

                if (v->hour_max > UINT64_MAX / 64)
                        w = v->hours[i].attempts / (v->hour_max / 50 + 1);
                fprintf(out, "  %s  %8" PRIu64 "  ", hour_label(v->hours[i].hour, t1), v->hours[i].attempts);
                while (w--)
                        fputc('#', out);
                fputc('\n', out);
        }

        if (r->ob.records)
                write_table_outbound(v, out);

        fprintf(out, "\nReloads: %" PRIu64 " ok, %" PRIu64 " failed\n", r->reload_ok, r->reload_failed);
        for (i = 0; i < v->nrerr; i++) {
                fprintf(out, "  %s  ", report_format_time(v->rerr[i]->ts, t1));
                put_text(out, v->rerr[i]->msg);
                fputc('\n', out);
        }
}

/* A row's first, last, attempts and reasons, and its policies. */
static void put_json_ob_stat(FILE *out, const struct report *r, const struct ob_stat *s, bool reasons)
{
        char pol[1024], *p, *save = NULL;
        int b = 0;

        fprintf(out, ",\"attempts\":%" PRIu64, s->attempts);
        if (reasons)
                fprintf(out, ",\"user_not_allowed\":%" PRIu64 ",\"destination_not_allowed\":%" PRIu64,
                        s->not_user, s->not_dest);
        fputs(",\"first\":", out);
        put_json_time(out, true, s->first);
        fputs(",\"last\":", out);
        put_json_time(out, true, s->last);
        fputs(",\"policies\":[", out);
        source_policies(r, &(struct src_stat){ .policies = s->policies }, pol, sizeof(pol));
        for (p = strtok_r(pol, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
                fputs(b++ ? "," : "", out);
                put_json_str(out, p);
        }
        fputs("]}", out);
}

/* "outbound": always there (zeroes for a log without outbound records),
 * so that a consumer's schema does not depend on the log. A row without
 * a name (unknown, in summaries, other) carries its label in the name. */
static void write_json_outbound(const struct view *v, FILE *out)
{
        const struct report *r = v->r;
        const struct report_outbound *ob = &r->ob;
        const struct ob_table *t;
        size_t i;

        fprintf(out, ",\"outbound\":{\"attempts\":%" PRIu64 ",\"attempts_by_event\":{\"refused\":%" PRIu64
                ",\"observed\":%" PRIu64 ",\"summary\":%" PRIu64 ",\"missed\":%" PRIu64 "},\"user_not_allowed\":%"
                PRIu64 ",\"destination_not_allowed\":%" PRIu64, ob->attempts, ob->ev_attempts[REPORT_EV_REFUSED],
                ob->ev_attempts[REPORT_EV_OBSERVED], ob->ev_attempts[REPORT_EV_SUMMARY],
                ob->ev_attempts[REPORT_EV_MISSED], ob->not_user, ob->not_dest);
        t = &ob->users;
        fprintf(out, ",\"users\":%zu,\"top_users\":[", t->keys.n);
        for (i = 0; i < v->ob_users; i++) {
                const struct ob_stat *s = &t->v[t->order[i]];

                fputs(i ? ",{\"uid\":" : "{\"uid\":", out);
                if (s->has_uid)
                        fprintf(out, "%" PRIu32, s->uid);
                else
                        fputs("null", out);
                fputs(",\"user\":", out);
                if (s->name)
                        put_json_str(out, s->name);
                else
                        fputs("null", out);
                put_json_ob_stat(out, r, s, true);
        }
        t = &ob->units;
        fprintf(out, "],\"units\":%zu,\"top_units\":[", t->keys.n);
        for (i = 0; i < v->ob_units; i++) {
                fputs(i ? ",{\"unit\":" : "{\"unit\":", out);
                put_json_str(out, t->keys.keys[t->order[i]]);
                put_json_ob_stat(out, r, &t->v[t->order[i]], true);
        }
        t = &ob->dests;
        fprintf(out, "],\"destinations\":%zu,\"top_destinations\":[", t->keys.n);
        for (i = 0; i < v->ob_dests; i++) {
                const struct ob_stat *s = &t->v[t->order[i]];

                fputs(i ? ",{\"dst\":" : "{\"dst\":", out);
                put_json_str(out, s->name && s->name != t->other ? s->name : t->keys.keys[t->order[i]]);
                if (s->port)
                        fprintf(out, ",\"port\":%u", s->port);
                else
                        fputs(",\"port\":null", out);
                put_json_ob_stat(out, r, s, true);
        }
        fputs("]}", out);
}

static void write_json(const struct view *v, FILE *out)
{
        const struct report *r = v->r;
        char pol[1024];
        size_t i;
        int b;

        fputs("{\"files\":[", out);
        for (i = 0; i < r->nfiles; i++) {
                fprintf(out, "%s{\"path\":", i ? "," : "");
                put_json_str(out, r->files[i].path);
                fprintf(out, ",\"lines\":%" PRIu64 ",\"corrupt\":%" PRIu64 ",\"error\":",
                        r->files[i].lines, r->files[i].corrupt);
                if (r->files[i].error)
                        put_json_str(out, strerror(-r->files[i].error));
                else
                        fputs("null", out);
                fputc('}', out);
        }
        fputs("],\"since\":", out);
        put_json_time(out, r->o.has_since, r->o.since);
        fputs(",\"until\":", out);
        put_json_time(out, r->o.has_until, r->o.until);
        fputs(",\"first\":", out);
        put_json_time(out, r->has_period, r->first);
        fputs(",\"last\":", out);
        put_json_time(out, r->has_period, r->last);
        fprintf(out, ",\"lines\":%" PRIu64 ",\"corrupt\":%" PRIu64 ",\"filtered\":%" PRIu64,
                r->lines, r->corrupt, r->filtered);
        fputs(",\"events\":{", out);
        for (i = 0; i < REPORT_EV_COUNT; i++)
                fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", rpt_event_name(i), r->events[i]);
        fprintf(out, "},\"attempts\":%" PRIu64 ",\"attempts_by_event\":{\"refused\":%" PRIu64
                ",\"observed\":%" PRIu64 ",\"summary\":%" PRIu64 ",\"missed\":%" PRIu64 "}",
                r->attempts, r->ev_attempts[REPORT_EV_REFUSED], r->ev_attempts[REPORT_EV_OBSERVED],
                r->ev_attempts[REPORT_EV_SUMMARY], r->ev_attempts[REPORT_EV_MISSED]);
        fprintf(out, ",\"sources\":%zu,\"sources_folded_attempts\":%" PRIu64 ",\"top_sources\":[",
                r->sources.n, r->sources_folded);
        for (i = 0; i < v->ntop; i++) {
                uint32_t k = r->order[i];
                const struct src_stat *s = &r->src[k];
                char *p, *save = NULL;

                fprintf(out, "%s{\"src\":", i ? "," : "");
                put_json_str(out, r->sources.keys[k]);
                fprintf(out, ",\"attempts\":%" PRIu64 ",\"first\":", s->attempts);
                put_json_time(out, true, s->first);
                fputs(",\"last\":", out);
                put_json_time(out, true, s->last);
                fputs(",\"policies\":[", out);
                source_policies(r, s, pol, sizeof(pol));
                b = 0;
                for (p = strtok_r(pol, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
                        fputs(b++ ? "," : "", out);
                        put_json_str(out, p);
                }
                fputs("]}", out);
        }
        fputs("],\"policies\":[", out);
        for (i = 0; i < v->npp; i++) {
                fprintf(out, "%s{\"policy\":", i ? "," : "");
                if (v->pp[i].policy)
                        put_json_str(out, v->pp[i].policy);
                else
                        fputs("null", out);
                if (v->pp[i].port)
                        fprintf(out, ",\"port\":%u", v->pp[i].port);
                else
                        fputs(",\"port\":null", out);
                fprintf(out, ",\"attempts\":%" PRIu64 "}", v->pp[i].attempts);
        }
        fputs("],\"timeline\":[", out);
        for (i = 0; i < v->nhours; i++) {
                fprintf(out, "%s{\"hour\":", i ? "," : "");
                put_json_time(out, true, v->hours[i].hour * US_PER_HOUR);
                fprintf(out, ",\"attempts\":%" PRIu64 "}", v->hours[i].attempts);
        }
        fputc(']', out);
        write_json_outbound(v, out);
        fprintf(out, ",\"reloads\":{\"ok\":%" PRIu64 ",\"error\":%" PRIu64 ",\"errors\":[",
                r->reload_ok, r->reload_failed);
        for (i = 0; i < v->nrerr; i++) {
                fprintf(out, "%s{\"ts\":", i ? "," : "");
                put_json_time(out, true, v->rerr[i]->ts);
                fputs(",\"error\":", out);
                put_json_str(out, v->rerr[i]->msg);
                fputc('}', out);
        }
        fputs("]}}\n", out);
}

static void csv_row(FILE *out, const char *section, const char *key, const char *value,
                    const char *first, const char *last, const char *detail)
{
        put_csv(out, section);
        fputc(',', out);
        put_csv(out, key);
        fputc(',', out);
        put_csv(out, value);
        fputc(',', out);
        put_csv(out, first);
        fputc(',', out);
        put_csv(out, last);
        fputc(',', out);
        put_csv(out, detail);
        fputs("\r\n", out);
}

static void csv_num(FILE *out, const char *section, const char *key, uint64_t n, const char *detail)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRIu64, n);
        csv_row(out, section, key, buf, "", "", detail);
}

/* An outbound row: key, attempts, first and last seen, detail. */
static void csv_ob(FILE *out, const char *section, const char *key, const struct ob_stat *s, const char *detail)
{
        char n[24], t1[32], t2[32];

        snprintf(n, sizeof(n), "%" PRIu64, s->attempts);
        csv_row(out, section, key, n, report_format_time(s->first, t1), report_format_time(s->last, t2), detail);
}

/* Only for a log with outbound records: an older log's CSV stays as it was.
 *   summary,outbound.attempts[.EVENT|.user-not-allowed|...],N,,,
 *   outbound_user,UID (or -),ATTEMPTS,FIRST,LAST,USER
 *   outbound_unit,UNIT,ATTEMPTS,FIRST,LAST,
 *   outbound_destination,ADDRESS,ATTEMPTS,FIRST,LAST,PORT */
static void write_csv_outbound(const struct view *v, FILE *out)
{
        const struct report_outbound *ob = &v->r->ob;
        const struct ob_table *t;
        char key[32];
        size_t i;

        csv_num(out, "summary", "outbound.attempts", ob->attempts, "");
        csv_num(out, "summary", "outbound.attempts.refused", ob->ev_attempts[REPORT_EV_REFUSED], "");
        csv_num(out, "summary", "outbound.attempts.observed", ob->ev_attempts[REPORT_EV_OBSERVED], "");
        csv_num(out, "summary", "outbound.attempts.summary", ob->ev_attempts[REPORT_EV_SUMMARY], "");
        csv_num(out, "summary", "outbound.attempts.missed", ob->ev_attempts[REPORT_EV_MISSED], "");
        csv_num(out, "summary", "outbound.user-not-allowed", ob->not_user, "");
        csv_num(out, "summary", "outbound.destination-not-allowed", ob->not_dest, "");
        t = &ob->users;
        for (i = 0; i < v->ob_users; i++) {
                const struct ob_stat *s = &t->v[t->order[i]];

                if (s->name == t->other)
                        snprintf(key, sizeof(key), "%s", "");
                else if (s->has_uid)
                        snprintf(key, sizeof(key), "%" PRIu32, s->uid);
                else
                        snprintf(key, sizeof(key), "-");
                csv_ob(out, "outbound_user", key, s, s->name ? s->name : "");
        }
        t = &ob->units;
        for (i = 0; i < v->ob_units; i++)
                csv_ob(out, "outbound_unit", t->keys.keys[t->order[i]], &t->v[t->order[i]], "");
        t = &ob->dests;
        for (i = 0; i < v->ob_dests; i++) {
                const struct ob_stat *s = &t->v[t->order[i]];
                bool named = s->name && s->name != t->other;

                snprintf(key, sizeof(key), "%u", s->port);
                csv_ob(out, "outbound_destination", named ? s->name : t->keys.keys[t->order[i]], s,
                       s->port ? key : "");
        }
}

static void write_csv(const struct view *v, FILE *out)
{
        const struct report *r = v->r;
        char t1[32], t2[32], pol[1024], port[12], key[64];
        size_t i;

        fputs("section,key,value,first_seen,last_seen,detail\r\n", out);
        for (i = 0; i < r->nfiles; i++)
                csv_num(out, "file", r->files[i].path, r->files[i].lines,
                        r->files[i].error ? strerror(-r->files[i].error) : "");
        if (r->o.has_since || r->o.has_until)
                csv_row(out, "summary", "filter", "",
                        r->o.has_since ? report_format_time(r->o.since, t1) : "",
                        r->o.has_until ? report_format_time(r->o.until, t2) : "", "");
        if (r->has_period)
                csv_row(out, "summary", "period", "", report_format_time(r->first, t1),
                        report_format_time(r->last, t2), "");
        csv_num(out, "summary", "lines", r->lines, "");
        csv_num(out, "summary", "corrupt", r->corrupt, "");
        csv_num(out, "summary", "filtered", r->filtered, "");
        for (i = 0; i < REPORT_EV_COUNT; i++) {
                snprintf(key, sizeof(key), "events.%s", rpt_event_name(i));
                csv_num(out, "summary", key, r->events[i], "");
        }
        csv_num(out, "summary", "attempts", r->attempts, "");
        csv_num(out, "summary", "attempts.refused", r->ev_attempts[REPORT_EV_REFUSED], "");
        csv_num(out, "summary", "attempts.observed", r->ev_attempts[REPORT_EV_OBSERVED], "");
        csv_num(out, "summary", "attempts.summary", r->ev_attempts[REPORT_EV_SUMMARY], "");
        csv_num(out, "summary", "attempts.missed", r->ev_attempts[REPORT_EV_MISSED], "");
        csv_num(out, "summary", "sources", r->sources.n, "");
        for (i = 0; i < v->ntop; i++) {
                uint32_t k = r->order[i];
                const struct src_stat *s = &r->src[k];
                char n[24];

                snprintf(n, sizeof(n), "%" PRIu64, s->attempts);
                csv_row(out, "source", r->sources.keys[k], n, report_format_time(s->first, t1),
                        report_format_time(s->last, t2), source_policies(r, s, pol, sizeof(pol)));
        }
        for (i = 0; i < v->npp; i++)
                csv_num(out, "policy_port", v->pp[i].policy ? v->pp[i].policy : "",
                        v->pp[i].attempts, v->pp[i].port ? pp_port(&v->pp[i], port) : "");
        for (i = 0; i < v->nhours; i++)
                csv_num(out, "hour", hour_label(v->hours[i].hour, t1), v->hours[i].attempts, "");
        if (r->ob.records)
                write_csv_outbound(v, out);
        csv_num(out, "reload", "ok", r->reload_ok, "");
        csv_num(out, "reload", "error", r->reload_failed, "");
        for (i = 0; i < v->nrerr; i++)
                csv_row(out, "reload_error", report_format_time(v->rerr[i]->ts, t1), "", "", "",
                        v->rerr[i]->msg);
}

static void html_kv(FILE *out, const char *k, const char *val)
{
        fputs("<tr><th>", out);
        put_html(out, k);
        fputs("</th><td>", out);
        put_html(out, val);
        fputs("</td></tr>\n", out);
}

static void html_kv_num(FILE *out, const char *k, uint64_t n)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRIu64, n);
        html_kv(out, k, buf);
}

static void html_svg(const struct view *v, FILE *out)
{
        const int W = 960, H = 240, L = 60, R = 10, T = 10, B = 40;
        const double pw = W - L - R, ph = H - T - B;
        int64_t h0, h1, span;
        char t1[32], t2[32];
        double bw;
        size_t i;

        if (!v->nhours) {
                fputs("<p>No attempts in this period.</p>\n", out);
                return;
        }
        h0 = v->hours[0].hour;
        h1 = v->hours[v->nhours - 1].hour;
        span = h1 - h0 + 1;
        bw = pw / (double)span;
        fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"attempts per hour\">\n", W, H, W, H);
        fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n",
                L, H - B, W - R, H - B);
        fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n", L, T, L, H - B);
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%" PRIu64 "</text>\n",
                L - 4, T + 10, v->hour_max);
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n", L - 4, H - B);
        for (i = 0; i < v->nhours; i++) {
                double x = L + (double)(v->hours[i].hour - h0) * bw;
                double h = ph * (double)v->hours[i].attempts / (double)v->hour_max;
                double w = bw > 2 ? bw - 1 : bw;

                if (h < 1)
                        h = 1;
                fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\">"
                        "<title>%s: %" PRIu64 "</title></rect>\n", x, (double)(H - B) - h,
                        w < 0.5 ? 0.5 : w, h, hour_label(v->hours[i].hour, t1), v->hours[i].attempts);
        }
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"start\">%s</text>\n", L, H - B + 16,
                hour_label(h0, t1));
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", W - R, H - B + 16,
                hour_label(h1 + 1, t2));
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">hour (UTC), %" PRId64
                " hours</text>\n", L + (int)pw / 2, H - 6, span);
        fputs("</svg>\n", out);
}

static void html_ob_row(FILE *out, const char *label, const struct ob_stat *s)
{
        char t1[32], t2[32];

        fputs("<tr><td><code>", out);
        put_html(out, label);
        fprintf(out, "</code></td><td class=\"n\">%" PRIu64 "</td><td>%s</td><td>%s</td></tr>\n", s->attempts,
                report_format_time(s->first, t1), report_format_time(s->last, t2));
}

static void write_html_outbound(const struct view *v, FILE *out)
{
        const struct report_outbound *ob = &v->r->ob;
        const struct ob_table *t;
        char label[400];
        size_t i;

        fprintf(out, "<h2>Outbound attempts</h2>\n<p>%" PRIu64 " attempts (refused %" PRIu64 ", observed %" PRIu64
                ", in summaries %" PRIu64 ", missed %" PRIu64 "); user not allowed %" PRIu64 ", destination not "
                "allowed %" PRIu64 "</p>\n", ob->attempts, ob->ev_attempts[REPORT_EV_REFUSED],
                ob->ev_attempts[REPORT_EV_OBSERVED], ob->ev_attempts[REPORT_EV_SUMMARY],
                ob->ev_attempts[REPORT_EV_MISSED], ob->not_user, ob->not_dest);
        fputs("<table>\n<tr><th>user</th><th>attempts</th><th>first seen</th><th>last seen</th></tr>\n", out);
        t = &ob->users;
        for (i = 0; i < v->ob_users; i++)
                html_ob_row(out, ob_user_label(t, &t->v[t->order[i]], label, sizeof(label)), &t->v[t->order[i]]);
        fputs("</table>\n<table>\n<tr><th>unit</th><th>attempts</th><th>first seen</th><th>last seen</th></tr>\n",
              out);
        t = &ob->units;
        for (i = 0; i < v->ob_units; i++)
                html_ob_row(out, t->keys.keys[t->order[i]], &t->v[t->order[i]]);
        fputs("</table>\n<table>\n<tr><th>destination</th><th>attempts</th><th>first seen</th><th>last seen</th>"
              "</tr>\n", out);
        t = &ob->dests;
        for (i = 0; i < v->ob_dests; i++)
                html_ob_row(out, ob_dest_label(t, t->order[i], label, sizeof(label)), &t->v[t->order[i]]);
        fputs("</table>\n", out);
}

static void write_html(const struct view *v, FILE *out)
{
        const struct report *r = v->r;
        char t1[32], t2[32], buf[160], pol[1024], port[12];
        size_t i;

        fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
              "style-src 'unsafe-inline'; img-src data:\">\n"
              "<title>mxlock audit report</title>\n<style>\n"
              "body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fff}\n"
              "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}\n"
              "table{border-collapse:collapse;margin:.5em 0}\n"
              "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\n"
              "th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
              "table.kv th{width:12em}\n"
              "svg rect{fill:#c0392b}svg .axis{stroke:#444;stroke-width:1}\n"
              "svg text{font-size:11px;fill:#333}\n"
              "code{font-family:ui-monospace,monospace}\n"
              "</style>\n</head>\n<body>\n<h1>mxlock audit report</h1>\n", out);

        fputs("<h2>Summary</h2>\n<table class=\"kv\">\n", out);
        for (i = 0; i < r->nfiles; i++) {
                snprintf(buf, sizeof(buf), "%" PRIu64 " lines, %" PRIu64 " corrupt%s%s",
                         r->files[i].lines, r->files[i].corrupt, r->files[i].error ? ", unreadable: " : "",
                         r->files[i].error ? strerror(-r->files[i].error) : "");
                fputs("<tr><th>file</th><td><code>", out);
                put_html(out, r->files[i].path);
                fputs("</code> ", out);
                put_html(out, buf);
                fputs("</td></tr>\n", out);
        }
        if (r->o.has_since)
                html_kv(out, "since", report_format_time(r->o.since, t1));
        if (r->o.has_until)
                html_kv(out, "until", report_format_time(r->o.until, t1));
        if (r->has_period) {
                snprintf(buf, sizeof(buf), "%s .. %s", report_format_time(r->first, t1),
                         report_format_time(r->last, t2));
                html_kv(out, "period", buf);
        }
        html_kv_num(out, "lines read", r->lines);
        html_kv_num(out, "corrupt lines skipped", r->corrupt);
        html_kv_num(out, "outside the period", r->filtered);
        html_kv_num(out, "attempts", r->attempts);
        html_kv_num(out, "attempts refused", r->ev_attempts[REPORT_EV_REFUSED]);
        html_kv_num(out, "attempts observed", r->ev_attempts[REPORT_EV_OBSERVED]);
        html_kv_num(out, "attempts in summaries", r->ev_attempts[REPORT_EV_SUMMARY]);
        html_kv_num(out, "attempts missed", r->ev_attempts[REPORT_EV_MISSED]);
        html_kv_num(out, "distinct sources", r->sources.n);
        fputs("</table>\n<h2>Records by event</h2>\n<table>\n<tr>", out);
        for (i = 0; i < REPORT_EV_COUNT; i++)
                fprintf(out, "<th>%s</th>", rpt_event_name(i));
        fputs("</tr>\n<tr>", out);
        for (i = 0; i < REPORT_EV_COUNT; i++)
                fprintf(out, "<td class=\"n\">%" PRIu64 "</td>", r->events[i]);
        fputs("</tr>\n</table>\n", out);

        fputs("<h2>Attempts per hour (UTC)</h2>\n", out);
        html_svg(v, out);

        fprintf(out, "<h2>Top sources (%zu of %zu)</h2>\n", v->ntop, r->sources.n);
        fputs("<table>\n<tr><th>source</th><th>attempts</th><th>first seen</th><th>last seen</th>"
              "<th>policies</th></tr>\n", out);
        for (i = 0; i < v->ntop; i++) {
                uint32_t k = r->order[i];
                const struct src_stat *s = &r->src[k];

                fputs("<tr><td><code>", out);
                put_html(out, r->sources.keys[k]);
                fprintf(out, "</code></td><td class=\"n\">%" PRIu64 "</td><td>%s</td><td>%s</td><td>",
                        s->attempts, report_format_time(s->first, t1), report_format_time(s->last, t2));
                put_html(out, source_policies(r, s, pol, sizeof(pol)));
                fputs("</td></tr>\n", out);
        }
        fputs("</table>\n<h2>Attempts by policy and port</h2>\n<table>\n"
              "<tr><th>policy</th><th>port</th><th>attempts</th></tr>\n", out);
        for (i = 0; i < v->npp; i++) {
                fputs("<tr><td>", out);
                put_html(out, pp_policy(&v->pp[i]));
                fprintf(out, "</td><td class=\"n\">%s</td><td class=\"n\">%" PRIu64 "</td></tr>\n",
                        pp_port(&v->pp[i], port), v->pp[i].attempts);
        }
        fputs("</table>\n", out);
        if (r->ob.records)
                write_html_outbound(v, out);
        fprintf(out, "<h2>Reloads</h2>\n<p>%" PRIu64 " ok, %" PRIu64 " failed</p>\n",
                r->reload_ok, r->reload_failed);
        if (v->nrerr) {
                fputs("<table>\n<tr><th>time</th><th>error</th></tr>\n", out);
                for (i = 0; i < v->nrerr; i++) {
                        fprintf(out, "<tr><td>%s</td><td>", report_format_time(v->rerr[i]->ts, t1));
                        put_html(out, v->rerr[i]->msg);
                        fputs("</td></tr>\n", out);
                }
                fputs("</table>\n", out);
        }
        fputs("</body>\n</html>\n", out);
}

int report_write(struct report *r, enum report_format fmt, FILE *out)
{
        struct view v;
        int e;

        e = view_build(r, &v);
        if (e < 0)
                goto out;
        switch (fmt) {
        case REPORT_FORMAT_TABLE:
                write_table(&v, out);
                break;
        case REPORT_FORMAT_JSON:
                write_json(&v, out);
                break;
        case REPORT_FORMAT_CSV:
                write_csv(&v, out);
                break;
        case REPORT_FORMAT_HTML:
                write_html(&v, out);
                break;
        default:
                e = -EINVAL;
                goto out;
        }
        e = fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
out:
        view_free(&v);
        return e;
}
