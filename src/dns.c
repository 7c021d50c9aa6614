/* src/dns.c: DNS lookups (see dns.h).
 *
 * Queries are built with res_nmkquery. Without a nameserver override they
 * go out through res_nsend with the system's resolv.conf; with one, this
 * module sends them itself (UDP, then TCP when the answer is truncated) so
 * that an IPv6 nameserver or an unusual port needs no poking at glibc's
 * private resolver state. Answers are read with ns_initparse/ns_parserr. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "spf.h"

#define DNS_ANSWER_MAX 65536
#define DNS_DEFAULT_TIMEOUT_MS 3000
#define DNS_DEFAULT_TRIES 2

bool dns_error_is_permanent(int r)
{
        return r == -ENOENT || r == -ENODATA;
}

const char *dns_error_name(int r)
{
        switch (r) {
        case 0: return "ok";
        case -ENOENT: return "NXDOMAIN";
        case -ENODATA: return "no data";
        case -ETIMEDOUT: return "timeout";
        case -EAGAIN: return "SERVFAIL";
        case -ECONNREFUSED: return "connection refused";
        case -EREMOTEIO: return "server error";
        case -EBADMSG: return "malformed answer";
        case -EINVAL: return "invalid name";
        case -ENOMEM: return "out of memory";
        default: return "lookup failed";
        }
}

static const char *type_name(int type)
{
        switch (type) {
        case ns_t_txt: return "TXT";
        case ns_t_a: return "A";
        case ns_t_aaaa: return "AAAA";
        case ns_t_mx: return "MX";
        default: return "?";
        }
}

/* Parse "IP", "IP:PORT", "[IPv6]" or "[IPv6]:PORT". */
static int nameserver_parse(const char *text, struct sockaddr_storage *ss, socklen_t *ret_len)
{
        char host[INET6_ADDRSTRLEN + 2];
        const char *port = NULL, *colon;
        unsigned long p = 53;
        size_t n;

        memset(ss, 0, sizeof(*ss));
        if (!text || !*text)
                return -EINVAL;
        if (text[0] == '[') {
                const char *e = strchr(text, ']');

                if (!e || (size_t)(e - text - 1) >= sizeof(host))
                        return -EINVAL;
                n = (size_t)(e - text - 1);
                memcpy(host, text + 1, n);
                host[n] = '\0';
                if (e[1] == ':')
                        port = e + 2;
                else if (e[1])
                        return -EINVAL;
        } else {
                colon = strchr(text, ':');
                if (colon && !strchr(colon + 1, ':')) {
                        n = (size_t)(colon - text);
                        port = colon + 1;
                } else {
                        n = strlen(text);       /* no colon, or a bare IPv6 address */
                }
                if (n >= sizeof(host))
                        return -EINVAL;
                memcpy(host, text, n);
                host[n] = '\0';
        }
        if (port) {
                char *end;

                if (!*port || *port < '0' || *port > '9')
                        return -EINVAL;
                errno = 0;
                p = strtoul(port, &end, 10);
                if (errno || *end || p == 0 || p > 65535)
                        return -EINVAL;
        }
        {
                struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

                if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
                        s4->sin_family = AF_INET;
                        s4->sin_port = htons((uint16_t)p);
                        *ret_len = sizeof(*s4);
                        return 0;
                }
                if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
                        s6->sin6_family = AF_INET6;
                        s6->sin6_port = htons((uint16_t)p);
                        *ret_len = sizeof(*s6);
                        return 0;
                }
        }
        return -EINVAL;
}

int dns_nameserver_check(const char *text)
{
        struct sockaddr_storage ss;
        socklen_t len;

        return nameserver_parse(text, &ss, &len);
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to become ready for events until the deadline. 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events, int64_t deadline)
{
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = events };
                int64_t left = deadline - now_ms();
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = poll(&pfd, 1, (int)left);
                if (r > 0)
                        return 0;
                if (r == 0)
                        return -ETIMEDOUT;
                if (errno != EINTR)
                        return -errno;
        }
}

static int read_full(int fd, unsigned char *buf, size_t n, int64_t deadline)
{
        size_t got = 0;

        while (got < n) {
                ssize_t k;
                int r = wait_fd(fd, POLLIN, deadline);

                if (r < 0)
                        return r;
                k = recv(fd, buf + got, n - got, 0);
                if (k == 0)
                        return -EBADMSG;
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                got += (size_t)k;
        }
        return 0;
}

/* One query over TCP (after a truncated UDP answer). */
static int send_tcp(const struct sockaddr_storage *ss, socklen_t sslen, const unsigned char *q, int qlen,
                    unsigned char *ans, int anssiz, int timeout_ms)
{
        int64_t deadline = now_ms() + timeout_ms;
        unsigned char hdr[2];
        int fd, r, len;

        fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *)ss, sslen) < 0 && errno != EINPROGRESS) {
                r = -errno;
                goto out;
        }
        r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0)
                goto out;
        {
                int soerr = 0;
                socklen_t sl = sizeof(soerr);

                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
                        r = soerr ? -soerr : -errno;
                        goto out;
                }
        }
        {
                unsigned char out[2 + NS_PACKETSZ * 2];
                size_t sent = 0, total = (size_t)qlen + 2;

                if ((size_t)qlen > sizeof(out) - 2) {
                        r = -EINVAL;
                        goto out;
                }
                out[0] = (unsigned char)(qlen >> 8);
                out[1] = (unsigned char)qlen;
                memcpy(out + 2, q, (size_t)qlen);
                while (sent < total) {
                        ssize_t k;

                        r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                goto out;
                        k = send(fd, out + sent, total - sent, MSG_NOSIGNAL);
                        if (k < 0) {
                                if (errno == EINTR || errno == EAGAIN)
                                        continue;
                                r = -errno;
                                goto out;
                        }
                        sent += (size_t)k;
                }
        }
        r = read_full(fd, hdr, 2, deadline);
        if (r < 0)
                goto out;
        len = hdr[0] << 8 | hdr[1];
        if (len < NS_HFIXEDSZ || len > anssiz) {
                r = -EBADMSG;
                goto out;
        }
        r = read_full(fd, ans, (size_t)len, deadline);
        if (r < 0)
                goto out;
        if (memcmp(ans, q, 2) != 0) {
                r = -EBADMSG;
                goto out;
        }
        r = len;
out:
        close(fd);
        return r;
}

/* Send q to the override nameserver: UDP with retries, TCP when truncated.
 * Returns the answer length or a negative errno. */
static int send_custom(const struct dns_resolver *res, const unsigned char *q, int qlen,
                       unsigned char *ans, int anssiz)
{
        int timeout = res->timeout_ms > 0 ? res->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
        int tries = res->tries > 0 ? res->tries : DNS_DEFAULT_TRIES;
        struct sockaddr_storage ss;
        socklen_t sslen;
        int fd, r, last = -ETIMEDOUT;

        r = nameserver_parse(res->nameserver, &ss, &sslen);
        if (r < 0)
                return r;
        fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *)&ss, sslen) < 0) {
                r = -errno;
                goto out;
        }
        for (int t = 0; t < tries; t++) {
                int64_t deadline = now_ms() + timeout;

                if (send(fd, q, (size_t)qlen, 0) < 0) {
                        last = -errno;
                        if (last == -ECONNREFUSED)
                                continue;
                        r = last;
                        goto out;
                }
                for (;;) {
                        ssize_t k;

                        r = wait_fd(fd, POLLIN, deadline);
                        if (r < 0) {
                                last = r;
                                break;
                        }
                        k = recv(fd, ans, (size_t)anssiz, 0);
                        if (k < 0) {
                                if (errno == EINTR || errno == EAGAIN)
                                        continue;
                                last = -errno;  /* ECONNREFUSED: ICMP port unreachable */
                                break;
                        }
                        /* An answer to this query: same id, QR set. Else keep waiting. */
                        if (k < NS_HFIXEDSZ || memcmp(ans, q, 2) != 0 || !(ans[2] & 0x80))
                                continue;
                        if (ans[2] & 0x02) {    /* TC */
                                r = send_tcp(&ss, sslen, q, qlen, ans, anssiz, timeout);
                                goto out;
                        }
                        r = (int)k;
                        goto out;
                }
                if (last == -ECONNREFUSED) {
                        /* Nothing listens: wait out the try so a restarting server gets a chance. */
                        struct timespec ts = { 0, 100 * 1000000L };

                        nanosleep(&ts, NULL);
                }
        }
        r = last;
out:
        close(fd);
        return r;
}

/* Query name for type; the answer goes into *ret_ans (malloc'd) and *ret_msg. */
static int dns_query(const struct dns_resolver *res, const char *name, int type, unsigned char **ret_ans,
                     ns_msg *ret_msg, char *err, size_t errlen)
{
        static const struct dns_resolver defaults = { 0 };
        unsigned char q[NS_PACKETSZ];
        unsigned char *ans = NULL;
        struct __res_state st;
        int qlen, len, r, rcode;
        size_t nlen;

        if (!res)
                res = &defaults;
        nlen = name ? strlen(name) : 0;
        if (nlen == 0 || nlen >= DNS_NAME_MAX) {
                snprintf(err, errlen, "'%.64s': not a valid DNS name", name ? name : "");
                return -EINVAL;
        }
        memset(&st, 0, sizeof(st));
        if (res_ninit(&st) < 0) {
                snprintf(err, errlen, "cannot initialise the resolver");
                return -ENOMEM;
        }
        st.retrans = ((res->timeout_ms > 0 ? res->timeout_ms : DNS_DEFAULT_TIMEOUT_MS) + 999) / 1000;
        if (st.retrans < 1)
                st.retrans = 1;
        st.retry = res->tries > 0 ? res->tries : DNS_DEFAULT_TRIES;
        st.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);

        qlen = res_nmkquery(&st, ns_o_query, name, ns_c_in, type, NULL, 0, NULL, q, sizeof(q));
        if (qlen < 0) {
                snprintf(err, errlen, "'%.64s': not a valid DNS name", name);
                r = -EINVAL;
                goto out;
        }
        ans = malloc(DNS_ANSWER_MAX);
        if (!ans) {
                r = -ENOMEM;
                goto out;
        }
        if (res->nameserver) {
                len = send_custom(res, q, qlen, ans, DNS_ANSWER_MAX);
        } else {
                errno = 0;
                len = res_nsend(&st, q, qlen, ans, DNS_ANSWER_MAX);
                if (len < 0)
                        len = errno == ECONNREFUSED ? -ECONNREFUSED : -ETIMEDOUT;
        }
        if (len < 0) {
                r = len;
                snprintf(err, errlen, "%s %s: %s%s%s", type_name(type), name,
                         r == -ETIMEDOUT ? "timeout" : r == -ECONNREFUSED ? "connection refused" : strerror(-r),
                         res->nameserver ? " from nameserver " : "", res->nameserver ? res->nameserver : "");
                goto out;
        }
        if (ns_initparse(ans, len, ret_msg) < 0) {
                snprintf(err, errlen, "%s %s: malformed answer", type_name(type), name);
                r = -EBADMSG;
                goto out;
        }
        rcode = ns_msg_getflag(*ret_msg, ns_f_rcode);
        switch (rcode) {
        case ns_r_noerror:
                r = 0;
                break;
        case ns_r_nxdomain:
                snprintf(err, errlen, "%s %s: NXDOMAIN (no such name)", type_name(type), name);
                r = -ENOENT;
                break;
        case ns_r_servfail:
                snprintf(err, errlen, "%s %s: SERVFAIL", type_name(type), name);
                r = -EAGAIN;
                break;
        default:
                snprintf(err, errlen, "%s %s: server answered rcode %d%s", type_name(type), name, rcode,
                         rcode == ns_r_refused ? " (refused)" : "");
                r = -EREMOTEIO;
                break;
        }
        if (r < 0)
                goto out;
        *ret_ans = ans;
        ans = NULL;
out:
        free(ans);
        res_nclose(&st);
        return r;
}

/* Iterate the answer section's records of a type. */
static int answer_foreach(ns_msg *msg, int type, int (*cb)(ns_msg *msg, ns_rr *rr, void *userdata),
                          void *userdata, uint32_t *ret_ttl, size_t *ret_n)
{
        uint32_t ttl = UINT32_MAX;
        size_t n = 0;

        for (int i = 0; i < ns_msg_count(*msg, ns_s_an); i++) {
                ns_rr rr;
                int r;

                if (ns_parserr(msg, ns_s_an, i, &rr) < 0)
                        return -EBADMSG;
                if ((int)ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in)
                        continue;
                r = cb(msg, &rr, userdata);
                if (r < 0)
                        return r;
                if (ns_rr_ttl(rr) < ttl)
                        ttl = ns_rr_ttl(rr);
                n++;
        }
        *ret_ttl = n ? ttl : 0;
        *ret_n = n;
        return 0;
}

struct strv {
        char **v;
        size_t n, cap;
};

static int strv_push(struct strv *s, char *str)
{
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 4;
                char **v = realloc(s->v, cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                s->v = v;
                s->cap = cap;
        }
        s->v[s->n++] = str;
        return 0;
}

void dns_strv_free(char **v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

int dns_txt_join(const unsigned char *rdata, size_t len, char **ret)
{
        const unsigned char *p = rdata, *end = rdata + len;
        char *out;
        size_t o = 0;

        out = malloc(len + 1);
        if (!out)
                return -ENOMEM;
        while (p < end) {
                size_t l = *p++;

                if (l > (size_t)(end - p)) {
                        free(out);
                        return -EBADMSG;
                }
                for (size_t i = 0; i < l; i++)
                        out[o++] = p[i] ? (char)p[i] : '?';
                p += l;
        }
        out[o] = '\0';
        *ret = out;
        return 0;
}

static int txt_cb(ns_msg *msg, ns_rr *rr, void *userdata)
{
        struct strv *s = userdata;
        char *out;
        int r;

        (void) msg;
        r = dns_txt_join(ns_rr_rdata(*rr), ns_rr_rdlen(*rr), &out);
        if (r < 0)
                return r;
        if (strv_push(s, out) < 0) {
                free(out);
                return -ENOMEM;
        }
        return 0;
}

static int no_records(int type, const char *name, char *err, size_t errlen)
{
        snprintf(err, errlen, "%s %s: no %s records", type_name(type), name, type_name(type));
        return -ENODATA;
}

int dns_txt(const struct dns_resolver *res, const char *name, char ***ret_v, size_t *ret_n,
            uint32_t *ret_ttl, char *err, size_t errlen)
{
        struct strv s = { 0 };
        unsigned char *ans = NULL;
        uint32_t ttl;
        size_t n;
        ns_msg msg;
        int r;

        r = dns_query(res, name, ns_t_txt, &ans, &msg, err, errlen);
        if (r < 0)
                return r;
        r = answer_foreach(&msg, ns_t_txt, txt_cb, &s, &ttl, &n);
        free(ans);
        if (r < 0) {
                dns_strv_free(s.v, s.n);
                snprintf(err, errlen, "TXT %s: %s", name, r == -ENOMEM ? "out of memory" : "malformed answer");
                return r;
        }
        if (s.n == 0) {
                free(s.v);
                return no_records(ns_t_txt, name, err, errlen);
        }
        *ret_v = s.v;
        *ret_n = s.n;
        if (ret_ttl)
                *ret_ttl = ttl;
        return 0;
}

struct addrv {
        int family;
        struct prefix *v;
        size_t n, cap;
};

static int addr_cb(ns_msg *msg, ns_rr *rr, void *userdata)
{
        struct addrv *a = userdata;
        size_t want = a->family == AF_INET ? 4 : 16;
        struct prefix p = { .family = a->family, .len = (uint8_t)(want * 8) };

        (void) msg;
        if (ns_rr_rdlen(*rr) != want)
                return -EBADMSG;
        p.addr = addr_from_bytes(a->family, ns_rr_rdata(*rr));
        if (a->n == a->cap) {
                size_t cap = a->cap ? a->cap * 2 : 4;
                struct prefix *v = realloc(a->v, cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                a->v = v;
                a->cap = cap;
        }
        a->v[a->n++] = p;
        return 0;
}

int dns_addrs(const struct dns_resolver *res, const char *name, int family, struct prefix **ret,
              size_t *ret_n, uint32_t *ret_ttl, char *err, size_t errlen)
{
        int type = family == AF_INET6 ? ns_t_aaaa : ns_t_a;
        struct addrv a = { .family = family == AF_INET6 ? AF_INET6 : AF_INET };
        unsigned char *ans = NULL;
        uint32_t ttl;
        size_t n;
        ns_msg msg;
        int r;

        r = dns_query(res, name, type, &ans, &msg, err, errlen);
        if (r < 0)
                return r;
        r = answer_foreach(&msg, type, addr_cb, &a, &ttl, &n);
        free(ans);
        if (r < 0) {
                free(a.v);
                snprintf(err, errlen, "%s %s: %s", type_name(type), name,
                         r == -ENOMEM ? "out of memory" : "malformed answer");
                return r;
        }
        if (a.n == 0) {
                free(a.v);
                return no_records(type, name, err, errlen);
        }
        *ret = a.v;
        *ret_n = a.n;
        if (ret_ttl)
                *ret_ttl = ttl;
        return 0;
}

struct mxv {
        struct dns_mx *v;
        size_t n, cap;
};

static int mx_cb(ns_msg *msg, ns_rr *rr, void *userdata)
{
        struct mxv *m = userdata;
        char host[NS_MAXDNAME];
        size_t len;
        int k;

        if (ns_rr_rdlen(*rr) < 3)
                return -EBADMSG;
        k = ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), ns_rr_rdata(*rr) + 2, host, sizeof(host));
        if (k < 0)
                return -EBADMSG;
        len = strlen(host);
        if (len > 1 && host[len - 1] == '.')
                host[--len] = '\0';
        if (len == 0)
                snprintf(host, sizeof(host), ".");
        if (m->n == m->cap) {
                size_t cap = m->cap ? m->cap * 2 : 4;
                struct dns_mx *v = realloc(m->v, cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                m->v = v;
                m->cap = cap;
        }
        m->v[m->n].preference = ns_get16(ns_rr_rdata(*rr));
        m->v[m->n].host = strdup(host);
        if (!m->v[m->n].host)
                return -ENOMEM;
        m->n++;
        return 0;
}

static int cmp_mx(const void *a, const void *b)
{
        const struct dns_mx *x = a, *y = b;

        if (x->preference != y->preference)
                return x->preference < y->preference ? -1 : 1;
        return strcasecmp(x->host, y->host);
}

void dns_mx_free(struct dns_mx *v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                free(v[i].host);
        free(v);
}

int dns_mx(const struct dns_resolver *res, const char *name, struct dns_mx **ret, size_t *ret_n,
           uint32_t *ret_ttl, char *err, size_t errlen)
{
        struct mxv m = { 0 };
        unsigned char *ans = NULL;
        uint32_t ttl;
        size_t n;
        ns_msg msg;
        int r;

        r = dns_query(res, name, ns_t_mx, &ans, &msg, err, errlen);
        if (r < 0)
                return r;
        r = answer_foreach(&msg, ns_t_mx, mx_cb, &m, &ttl, &n);
        free(ans);
        if (r < 0) {
                dns_mx_free(m.v, m.n);
                snprintf(err, errlen, "MX %s: %s", name, r == -ENOMEM ? "out of memory" : "malformed answer");
                return r;
        }
        if (m.n == 0) {
                free(m.v);
                return no_records(ns_t_mx, name, err, errlen);
        }
        qsort(m.v, m.n, sizeof(*m.v), cmp_mx);
        *ret = m.v;
        *ret_n = m.n;
        if (ret_ttl)
                *ret_ttl = ttl;
        return 0;
}

int dns_resolve_host(const struct dns_resolver *res, const char *name, struct prefix **ret,
                     size_t *ret_n, uint32_t *ret_ttl, char *err, size_t errlen)
{
        struct prefix *v4 = NULL, *v6 = NULL, *v = NULL;
        size_t n4 = 0, n6 = 0;
        uint32_t t4 = 0, t6 = 0;
        char err6[256];
        int family, r4, r6;
        addr128 a;

        if (name && addr_parse(name, &family, &a) == 0) {
                v = malloc(sizeof(*v));
                if (!v)
                        return -ENOMEM;
                v->family = family;
                v->addr = a;
                v->len = family == AF_INET ? 32 : 128;
                *ret = v;
                *ret_n = 1;
                *ret_ttl = 0;
                return 0;
        }
        r4 = dns_addrs(res, name, AF_INET, &v4, &n4, &t4, err, errlen);
        if (r4 == -EINVAL || r4 == -ENOMEM)
                return r4;
        r6 = dns_addrs(res, name, AF_INET6, &v6, &n6, &t6, err6, sizeof(err6));
        if (r4 < 0 && !dns_error_is_permanent(r4)) {
                free(v6);
                return r4;
        }
        if (r6 < 0 && !dns_error_is_permanent(r6)) {
                free(v4);
                snprintf(err, errlen, "%s", err6);
                return r6;
        }
        if (r4 < 0 && r6 < 0) {
                /* NXDOMAIN wins over "no data": the name does not exist at all. */
                if (r4 == -ENOENT || r6 == -ENOENT) {
                        snprintf(err, errlen, "%s: no such host name (NXDOMAIN)", name);
                        return -ENOENT;
                }
                snprintf(err, errlen, "%s: no A or AAAA records", name);
                return -ENODATA;
        }
        v = malloc((n4 + n6) * sizeof(*v));
        if (!v) {
                free(v4);
                free(v6);
                return -ENOMEM;
        }
        if (n4)
                memcpy(v, v4, n4 * sizeof(*v));
        if (n6)
                memcpy(v + n4, v6, n6 * sizeof(*v));
        free(v4);
        free(v6);
        *ret = v;
        *ret_n = n4 + n6;
        if (r4 == 0 && r6 == 0)
                *ret_ttl = t4 < t6 ? t4 : t6;
        else
                *ret_ttl = r4 == 0 ? t4 : t6;
        return 0;
}

int dns_policy_resolve(const char *name, struct prefix **ret, size_t *ret_n, uint32_t *ret_ttl,
                       char *err, size_t errlen, void *userdata)
{
        return dns_resolve_host(userdata, name, ret, ret_n, ret_ttl, err, errlen);
}

static int spf_txt_cb(const char *name, char ***ret_v, size_t *ret_n, char *err, size_t errlen, void *userdata)
{
        return dns_txt(userdata, name, ret_v, ret_n, NULL, err, errlen);
}

static int spf_addrs_cb(const char *name, int family, struct prefix **ret, size_t *ret_n, char *err, size_t errlen,
                        void *userdata)
{
        return dns_addrs(userdata, name, family, ret, ret_n, NULL, err, errlen);
}

static int spf_mx_cb(const char *name, char ***ret_hosts, size_t *ret_n, char *err, size_t errlen, void *userdata)
{
        struct dns_mx *mx = NULL;
        size_t n = 0;
        char **v;
        int r;

        r = dns_mx(userdata, name, &mx, &n, NULL, err, errlen);
        if (r < 0)
                return r;
        v = calloc(n, sizeof(*v));
        if (!v) {
                dns_mx_free(mx, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                v[i] = mx[i].host;      /* hand the strings over */
                mx[i].host = NULL;
        }
        dns_mx_free(mx, n);
        *ret_hosts = v;
        *ret_n = n;
        return 0;
}

void dns_spf_lookup_init(struct spf_lookup *lk, const struct dns_resolver *res)
{
        lk->txt = spf_txt_cb;
        lk->addrs = spf_addrs_cb;
        lk->mx = spf_mx_cb;
        lk->userdata = (void *)(uintptr_t)res;
}
