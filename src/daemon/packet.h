/* src/daemon/packet.h: the packet path: the port -> policy index, the queue
 * handler, decoding a queued SYN, its verdict, and folding it through the
 * tally. */
#pragma once

#include "daemon/daemon.h"

void index_ports(struct daemon *d);
void on_packet(const struct queue_pkt *p, void *userdata);
void on_queue(struct daemon *d);
