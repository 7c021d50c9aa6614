/* nfq/queue.c: NFQUEUE I/O with batched verdicts. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include "queue.h"

/* IP + extension headers + TCP header. The policy comes with the mark and
 * the source with the fixed header, so a longer chain of extension
 * headers costs only the ports in the record; 1024 bytes hold any chain a
 * sender not crafting one uses, and keep a flood of big SYNs cheap. */
#define COPY_RANGE 1024
#define RECV_SLOT 2048          /* one queued packet: netlink headers + COPY_RANGE */
#define RECV_MSGS 64
#define RECV_BUF (RECV_SLOT * RECV_MSGS)

struct pending {
        bool active;
        uint16_t qnum;
        uint32_t id;
        uint32_t verdict;
        uint32_t mark;
};

struct queue {
        struct mnl_socket *sock;
        uint32_t portid;
        uint32_t seq;
        uint16_t first, count;
        struct pending pending;
        char *rbuf;
        char sbuf[8192];
        size_t slen;
        uint64_t enobufs;
};

static int send_cfg(struct queue *q, uint16_t qnum, uint8_t cmd, bool params, uint32_t maxlen, bool fail_open)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        char ack[MNL_SOCKET_BUFFER_SIZE];
        ssize_t n;

        nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, qnum);
        nlh->nlmsg_flags |= NLM_F_ACK;
        nlh->nlmsg_seq = ++q->seq;
        if (cmd != NFQNL_CFG_CMD_NONE)
                nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, cmd);
        if (params) {
                /* UID_GID: a packet of a local socket comes with its
                 * owner (outbound policies name who tried) */
                uint32_t flags = (fail_open ? NFQA_CFG_F_FAIL_OPEN : 0) | NFQA_CFG_F_UID_GID;

                nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
                nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
                mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
                mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_UID_GID));
        }
        if (mnl_socket_sendto(q->sock, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        for (;;) {
                n = mnl_socket_recvfrom(q->sock, ack, sizeof(ack));
                if (n < 0)
                        return errno == EINTR ? -EAGAIN : -errno;
                n = mnl_cb_run(ack, (size_t)n, q->seq, q->portid, NULL, NULL);
                if (n < 0)
                        return -errno;
                if (n == MNL_CB_STOP || n == MNL_CB_OK)
                        return 0;
        }
}

int queue_open(uint16_t first, uint16_t count, uint32_t maxlen, bool fail_open, struct queue **ret)
{
        struct queue *q;
        int r, one = 1, rcvbuf = 8 << 20;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->rbuf = malloc(RECV_BUF);
        if (!q->rbuf) {
                free(q);
                return -ENOMEM;
        }
        q->first = first;
        q->count = count;
        q->seq = (uint32_t)time(NULL);
        q->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!q->sock) {
                r = -errno;
                goto fail;
        }
        if (mnl_socket_bind(q->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
                r = -errno;
                goto fail;
        }
        q->portid = mnl_socket_get_portid(q->sock);
        (void)setsockopt(mnl_socket_get_fd(q->sock), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
        (void)mnl_socket_setsockopt(q->sock, NETLINK_NO_ENOBUFS, &one, sizeof(one));
        (void)mnl_socket_setsockopt(q->sock, NETLINK_EXT_ACK, &one, sizeof(one));

        for (uint16_t i = 0; i < count; i++) {
                r = send_cfg(q, (uint16_t)(first + i), NFQNL_CFG_CMD_BIND, false, 0, false);
                if (r < 0)
                        goto fail;
                r = send_cfg(q, (uint16_t)(first + i), NFQNL_CFG_CMD_NONE, true, maxlen, fail_open);
                if (r < 0)
                        goto fail;
        }
        /* non-blocking from here on: the event loop reads until EAGAIN */
        {
                int fd = mnl_socket_get_fd(q->sock);
                int fl = fcntl(fd, F_GETFL);
                (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        }
        *ret = q;
        return 0;
fail:
        if (q->sock)
                mnl_socket_close(q->sock);
        free(q->rbuf);
        free(q);
        return r;
}

void queue_close(struct queue *q)
{
        if (!q)
                return;
        (void)queue_flush(q);
        mnl_socket_close(q->sock);      /* closing unbinds every queue */
        free(q->rbuf);
        free(q);
}

int queue_fd(const struct queue *q)
{
        return mnl_socket_get_fd(q->sock);
}

uint64_t queue_enobufs(const struct queue *q)
{
        return q->enobufs;
}

struct recv_ctx {
        void (*cb)(const struct queue_pkt *p, void *userdata);
        void *userdata;
        int seen;
};

static int packet_cb(const struct nlmsghdr *nlh, void *data)
{
        struct recv_ctx *c = data;
        struct nlattr *attr[NFQA_MAX + 1] = { 0 };
        struct nfqnl_msg_packet_hdr *ph;
        struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
        struct queue_pkt p = { 0 };

        if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
                return MNL_CB_OK;
        ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
        p.qnum = ntohs(g->res_id);
        p.id = ntohl(ph->packet_id);
        if (attr[NFQA_MARK])
                p.mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
        if (attr[NFQA_IFINDEX_INDEV])
                p.ifindex = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
        if (attr[NFQA_IFINDEX_OUTDEV])
                p.outdev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]));
        if (attr[NFQA_UID]) {
                p.has_uid = true;
                p.uid = ntohl(mnl_attr_get_u32(attr[NFQA_UID]));
        }
        if (attr[NFQA_PAYLOAD]) {
                p.data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
                p.len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
        }
        c->seen++;
        c->cb(&p, c->userdata);
        return MNL_CB_OK;
}

int queue_receive(struct queue *q, size_t max, void (*cb)(const struct queue_pkt *p, void *userdata),
                  void *userdata)
{
        struct recv_ctx c = { .cb = cb, .userdata = userdata };
        struct mmsghdr msgs[RECV_MSGS];
        struct iovec iov[RECV_MSGS];
        int fd = mnl_socket_get_fd(q->sock);

        /* one queued packet is one datagram: take many per system call */
        for (int i = 0; i < RECV_MSGS; i++) {
                iov[i].iov_base = q->rbuf + (size_t)i * RECV_SLOT;
                iov[i].iov_len = RECV_SLOT;
                memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
        }
        while ((size_t)c.seen < max) {
                unsigned want = max - (size_t)c.seen < RECV_MSGS ? (unsigned)(max - (size_t)c.seen) : RECV_MSGS;
                int n = recvmmsg(fd, msgs, want, MSG_DONTWAIT, NULL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        if (errno == ENOBUFS) {
                                q->enobufs++;
                                continue;
                        }
                        return -errno;
                }
                for (int i = 0; i < n; i++) {
                        /* seq 0 and portid 0: packets are unsolicited. An
                         * error ack (a stale verdict) needs nothing. */
                        (void)mnl_cb_run(iov[i].iov_base, msgs[i].msg_len, 0, 0, packet_cb, &c);
                }
                if ((unsigned)n < want)
                        break;
        }
        return c.seen;
}

/* Handed NLMSG_ERROR messages while queue_set_fail_open() waits: notes the
 * one that answers its request; others (a stale verdict's error) are not
 * ours to judge. */
struct cfg_wait {
        struct recv_ctx rc;
        uint32_t seq;
        bool acked;
        int error;
};

static int cfg_error_cb(const struct nlmsghdr *nlh, void *data)
{
        struct cfg_wait *w = data;
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)) || nlh->nlmsg_seq != w->seq)
                return MNL_CB_OK;
        w->acked = true;
        w->error = e->error;
        return MNL_CB_OK;
}

static int cfg_packet_cb(const struct nlmsghdr *nlh, void *data)
{
        return packet_cb(nlh, &((struct cfg_wait *)data)->rc);
}

int queue_set_fail_open(struct queue *q, bool fail_open, void (*cb)(const struct queue_pkt *p, void *userdata),
                        void *userdata)
{
        mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = cfg_error_cb };
        int fd = mnl_socket_get_fd(q->sock);

        for (uint16_t i = 0; i < q->count; i++) {
                char buf[MNL_SOCKET_BUFFER_SIZE];
                struct cfg_wait w = { .rc = { .cb = cb, .userdata = userdata } };
                struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, (uint16_t)(q->first + i));
                int waited = 0;

                nlh->nlmsg_flags |= NLM_F_ACK;
                nlh->nlmsg_seq = w.seq = ++q->seq;
                mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(fail_open ? NFQA_CFG_F_FAIL_OPEN : 0));
                mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
                if (mnl_socket_sendto(q->sock, nlh, nlh->nlmsg_len) < 0)
                        return -errno;
                /* the kernel answers in the send itself, but packets queued
                 * before it may be read first: they go to cb as usual */
                while (!w.acked) {
                        ssize_t n = recv(fd, q->rbuf, RECV_BUF, MSG_DONTWAIT);

                        if (n < 0) {
                                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                                if (errno == ENOBUFS) {
                                        q->enobufs++;
                                        continue;
                                }
                                if (errno != EAGAIN && errno != EINTR)
                                        return -errno;
                                if (waited++ >= 10)
                                        return -ETIMEDOUT;
                                (void)poll(&pfd, 1, 100);
                                continue;
                        }
                        (void)mnl_cb_run2(q->rbuf, (size_t)n, 0, 0, cfg_packet_cb, &w, ctl, NLMSG_MIN_TYPE);
                }
                if (w.error)
                        return w.error;         /* already negative errno */
        }
        return 0;
}

static int send_buffered(struct queue *q)
{
        ssize_t n;

        if (!q->slen)
                return 0;
        n = send(mnl_socket_get_fd(q->sock), q->sbuf, q->slen, 0);
        q->slen = 0;
        return n < 0 ? -errno : 0;
}

static int put_pending(struct queue *q)
{
        struct pending *pd = &q->pending;
        struct nlmsghdr *nlh;
        int r = 0;

        if (!pd->active)
                return 0;
        if (q->slen + 128 > sizeof(q->sbuf))
                r = send_buffered(q);
        nlh = nfq_nlmsg_put(q->sbuf + q->slen, NFQNL_MSG_VERDICT_BATCH, pd->qnum);
        nfq_nlmsg_verdict_put(nlh, (int)pd->id, (int)pd->verdict);
        /* always: a packet comes to us with the mark our rules set, and
         * leaves with the one we give (0: none) */
        nfq_nlmsg_verdict_put_mark(nlh, pd->mark);
        q->slen += NLMSG_ALIGN(nlh->nlmsg_len);
        pd->active = false;
        return r;
}

void queue_verdict(struct queue *q, const struct queue_pkt *p, enum queue_verdict v, uint32_t mark)
{
        struct pending *pd = &q->pending;

        if (pd->active && (pd->qnum != p->qnum || pd->verdict != (uint32_t)v || pd->mark != mark))
                (void)put_pending(q);
        pd->active = true;
        pd->qnum = p->qnum;
        pd->id = p->id;
        pd->verdict = (uint32_t)v;
        pd->mark = mark;
}

int queue_flush(struct queue *q)
{
        int r = put_pending(q);
        int r2 = send_buffered(q);

        return r < 0 ? r : r2;
}
