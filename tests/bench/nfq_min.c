/* tests/bench/nfq_min.c: the baseline NFQUEUE consumer for `make bench`:
 * binds one queue, reads packets and drops every one of them with one
 * NFQNL_MSG_VERDICT_BATCH per read burst (at most BATCH packets). It does
 * nothing else: no decoding, no audit, no counters beyond its own total.
 *
 * Usage: nfq_min QUEUE [BATCH]
 * Prints "ready" on stdout once bound, and "verdicts N" when stopped by
 * SIGINT or SIGTERM. Same socket set-up as mxlockd's nfq/queue.c (copy
 * range 256 bytes, queue length 16384, 8 MiB receive buffer,
 * NETLINK_NO_ENOBUFS), so the two differ only in what they do per packet. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>

#define COPY_RANGE 256
#define QUEUE_MAXLEN 16384
#define RECV_BUF (256 * 1024)

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
        (void)sig;
        stop_flag = 1;
}

struct ctx {
        uint32_t last_id;
        unsigned seen;
};

static int packet_cb(const struct nlmsghdr *nlh, void *data)
{
        struct ctx *c = data;
        struct nlattr *attr[NFQA_MAX + 1] = { 0 };
        struct nfqnl_msg_packet_hdr *ph;

        if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
                return MNL_CB_OK;
        ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
        c->last_id = ntohl(ph->packet_id);
        c->seen++;
        return MNL_CB_OK;
}

static int config(struct mnl_socket *nl, uint16_t qnum, uint8_t cmd, int params)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, qnum);

        if (cmd != NFQNL_CFG_CMD_NONE)
                nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, cmd);
        if (params) {
                nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
                nfq_nlmsg_cfg_put_qmaxlen(nlh, QUEUE_MAXLEN);
        }
        return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

static int send_drop(struct mnl_socket *nl, uint16_t qnum, uint32_t id)
{
        char buf[256];
        struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT_BATCH, qnum);

        nfq_nlmsg_verdict_put(nlh, (int)id, NF_DROP);
        return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

int main(int argc, char **argv)
{
        struct sigaction sa = { .sa_handler = on_stop };
        unsigned long long total = 0;
        struct mnl_socket *nl;
        unsigned batch = 64;
        int one = 1, rcvbuf = 8 << 20, fd;
        uint16_t qnum;
        char *buf;

        if (argc < 2) {
                fprintf(stderr, "usage: %s QUEUE [BATCH]\n", argv[0]);
                return 2;
        }
        qnum = (uint16_t)atoi(argv[1]);
        if (argc > 2)
                batch = (unsigned)atoi(argv[2]);
        if (batch < 1)
                batch = 1;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        buf = malloc(RECV_BUF);
        nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!buf || !nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                perror("nfq_min: netlink");
                return 1;
        }
        fd = mnl_socket_get_fd(nl);
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
        (void)mnl_socket_setsockopt(nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));
        if (config(nl, qnum, NFQNL_CFG_CMD_BIND, 0) < 0 || config(nl, qnum, NFQNL_CFG_CMD_NONE, 1) < 0) {
                perror("nfq_min: bind");
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        while (!stop_flag) {
                struct ctx c = { 0 };
                int flags = 0;

                /* one blocking read, then drain what is waiting up to a batch */
                while (c.seen < batch) {
                        ssize_t n = recv(fd, buf, RECV_BUF, flags);

                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
                                        break;
                                perror("nfq_min: recv");
                                return 1;
                        }
                        (void)mnl_cb_run(buf, (size_t)n, 0, 0, packet_cb, &c);
                        flags = MSG_DONTWAIT;
                }
                if (c.seen) {
                        if (send_drop(nl, qnum, c.last_id) < 0)
                                perror("nfq_min: verdict");
                        total += c.seen;
                }
        }
        printf("verdicts %llu\n", total);
        mnl_socket_close(nl);
        free(buf);
        return 0;
}
