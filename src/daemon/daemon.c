/* src/daemon/daemon.c: what the modules share: the real kernel calls, and
 * the timeouts that drive the modules' periodic work from the loop. */
#include <errno.h>
#include <stdlib.h>
#include <sys/time.h>

#include "notify.h"
#include "daemon/daemon.h"
#include "daemon/loop.h"

const struct daemon_kops daemon_kops_kernel = {
        .receive = queue_receive,
        .flush = queue_flush,
        .verdict = queue_verdict,
        .counter = ruleset_counter,
        .offender_add = ruleset_offender_add,
        .offenders_del = ruleset_offenders_del,
        .offenders_read = ruleset_offenders_read,
        .offenders_flush = ruleset_offenders_flush,
        .early = ruleset_early,
};

void daemon_init(struct daemon *d)
{
        d->k = &daemon_kops_kernel;
        d->out.audit_dir_fd = -1;
}

/* The modules' per-second work, in the order it was always done: the
 * fold table's ended windows, the offenders' counters, the queue's
 * accounting (which wants to know whether packets came this second), host
 * names due for re-resolution, then the audit log flushed. */
void daemon_tick(struct daemon *d)
{
        packet_tick(d);
        outbound_flush(d, false);
        if (d->enabled)
                offenders_tick(d, false);
        accounting_tick(d);
        enforce_tick(d);
        audit_sync(d);
}

static void on_tick(void *data)
{
        struct daemon *d = data;

        d->tick_id = loop_add_timeout(d->loop, TICK_MS, on_tick, d);
        daemon_tick(d);
}

static void on_watch_due(void *data)
{
        struct daemon *d = data;

        d->watch_id = loop_add_timeout(d->loop, WATCH_MS, on_watch_due, d);
        on_watch(d);
}

/* Fed from a timeout: it fires only when the loop turns, and every handler
 * returns after a bounded amount of work, so a stuck or starved loop stops
 * the pings and systemd notices. */
static void on_watchdog(void *data)
{
        struct daemon *d = data;

        d->watchdog_id = loop_add_timeout(d->loop, d->watchdog_ms, on_watchdog, d);
        notify_send("WATCHDOG=1");
}

int daemon_start_timers(struct daemon *d)
{
        uint64_t usec = notify_watchdog_usec();

        d->tick_id = loop_add_timeout(d->loop, TICK_MS, on_tick, d);
        if (!d->tick_id)
                return -ENOMEM;
        if (d->enf.watch) {
                d->watch_id = loop_add_timeout(d->loop, WATCH_MS, on_watch_due, d);
                if (!d->watch_id)
                        return -ENOMEM;
        }
        if (usec) {
                d->watchdog_ms = usec / 4000;
                if (d->watchdog_ms > TICK_MS)
                        d->watchdog_ms = TICK_MS;
                if (d->watchdog_ms == 0)
                        d->watchdog_ms = 1;
                d->watchdog_id = loop_add_timeout(d->loop, d->watchdog_ms, on_watchdog, d);
                if (!d->watchdog_id)
                        return -ENOMEM;
        }
        return figures_start(d);
}

void daemon_free(struct daemon *d)
{
        queue_close(d->pkt.queue);
        d->pkt.queue = NULL;
        tally_free(&d->pkt.tally);
        outbound_free(d);
        enforce_free(d);
        ruleset_close(d->rs);
        d->rs = NULL;
        ruleset_layout_free(&d->layout);
        audit_out_close(d);
        accounting_free(d);
        offenders_free(d);
        policy_set_free(d->pol);
        d->pol = NULL;
        config_free(d->cfg);
        d->cfg = NULL;
}
