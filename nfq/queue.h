/* nfq/queue.h: the NFQUEUE socket (libmnl + libnetfilter_queue): binding,
 * receiving queued packets, and batched verdicts. I/O only; decoding is in
 * decode.c. */
#ifndef MXLOCK_QUEUE_H
#define MXLOCK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

struct queue;

struct queue_pkt {
        uint16_t qnum;
        uint32_t id;
        uint32_t mark;
        uint32_t ifindex;       /* input interface, 0 when unknown */
        uint32_t outdev;        /* output interface (this host's own packets), 0 when unknown */
        bool has_uid;           /* the packet's socket is local: its owner */
        uint32_t uid;
        const uint8_t *data;    /* starts at the IP header */
        size_t len;
};

enum queue_verdict { QUEUE_DROP = 0, QUEUE_ACCEPT = 1, QUEUE_REPEAT = 4 };

/* Open a socket bound to queues [first, first+count). fail_open: accept
 * packets the kernel cannot queue because the queue is full. */
int queue_open(uint16_t first, uint16_t count, uint32_t maxlen, bool fail_open, struct queue **ret);
/* Send pending verdicts, unbind and close; accepts NULL. Packets still in
 * the queue are dropped by the kernel when the socket goes. */
void queue_close(struct queue *q);
int queue_fd(const struct queue *q);

/* Read what is waiting (non-blocking) and call cb for each packet, at most
 * max packets. Every packet handed to cb must get a queue_verdict() before
 * the next queue_flush(). Returns packets seen, or negative errno
 * (-ENOBUFS: the kernel dropped messages for us; counted, not fatal). */
int queue_receive(struct queue *q, size_t max, void (*cb)(const struct queue_pkt *p, void *userdata),
                  void *userdata);

/* Record a verdict and the packet's new mark (0: none); consecutive packets
 * with the same verdict and mark are sent as one batch verdict. */
void queue_verdict(struct queue *q, const struct queue_pkt *p, enum queue_verdict v, uint32_t mark);

/* Change fail_open on every queue of q (a reload). Waits for the kernel's
 * answer; packets read meanwhile go to cb as in queue_receive(). Returns 0
 * or negative errno. */
int queue_set_fail_open(struct queue *q, bool fail_open, void (*cb)(const struct queue_pkt *p, void *userdata),
                        void *userdata);

/* Send pending verdicts. Returns 0 or negative errno. */
int queue_flush(struct queue *q);

/* Messages the kernel could not deliver to us (ENOBUFS events). */
uint64_t queue_enobufs(const struct queue *q);

#endif
