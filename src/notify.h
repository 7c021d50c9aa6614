/* src/notify.h: the sd_notify protocol, spoken directly over $NOTIFY_SOCKET
 * (no libsystemd), as chronyd does. */
#ifndef MXLOCK_NOTIFY_H
#define MXLOCK_NOTIFY_H

#include <stdint.h>

/* Send a state string ("READY=1\nSTATUS=..."); a no-op outside systemd.
 * Returns 1 when sent, 0 when not under systemd, negative errno on error. */
int notify_send(const char *state);

/* The watchdog interval in microseconds from $WATCHDOG_USEC, 0 when off. */
uint64_t notify_watchdog_usec(void);

#endif
