/* src/daemon/packet.h: the packet path. Owns the queue (the NFQUEUE
 * binding), the port -> policy index, the fold table (tally) that turns a
 * flood into summaries, the interface-name cache, and the counts of
 * packets handled and of packets that were none of ours. The queue handler
 * answers a bounded number of batches per wake-up and returns; the loop
 * (level-triggered) brings it back on its next turn. */
#pragma once

#include <net/if.h>
#include <stdint.h>

#include "queue.h"
#include "tally.h"

struct daemon;

#define RECV_BATCH 256          /* packets read per batch */
#define PACKET_BATCHES 4        /* batches per wake-up, then the loop turns */

struct packet_path {
        struct queue *queue;
        uint16_t port_policy[65536];    /* policy index + 1, 0: not locked */
        struct tally tally;
        char ifnames[64][IF_NAMESIZE];
        uint64_t undecodable;
        uint64_t packets;               /* packets handled so far */
};

/* Rebuild the port -> policy index from d->pol. */
void index_ports(struct daemon *d);
/* One queued packet: its verdict, its count, its record or fold. */
void on_packet(const struct queue_pkt *p, void *userdata);
/* Answer at most `batches` batches of the queue; returns the number of
 * batches read (the queue may hold more when that equals `batches`). */
int packet_serve(struct daemon *d, int batches);
/* The loop's handler for the queue's descriptor (data: the daemon). */
void packet_on_queue(int fd, uint32_t events, void *data);
/* At stop: everything still waiting. */
void packet_drain(struct daemon *d);
/* Every second: write what the fold table holds for ended windows. */
void packet_tick(struct daemon *d);
