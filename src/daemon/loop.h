/* src/daemon/loop.h: the daemon's event loop (docs/design.md, "The event
 * loop"). Modules register their descriptors and timeouts; main only wires
 * them and calls loop_run. The rule: no handler blocks. A handler that has
 * more work than one turn should do (a flooded queue) does a bounded part
 * and returns; level-triggered descriptors bring it back on the next turn,
 * after every other ready descriptor and every due timeout had its turn. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct loop;

/* events: EPOLLIN, EPOLLOUT... as given to loop_add_fd; what is ready. */
typedef void (*loop_fd_fn)(int fd, uint32_t events, void *data);
typedef void (*loop_timeout_fn)(void *data);

int loop_new(struct loop **ret);
/* Closes nothing: the descriptors belong to the modules that added them. */
void loop_free(struct loop *l);

/* Watch fd (level-triggered) for events. One registration per descriptor.
 * Returns 0 or -errno. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
/* Safe from inside any handler, including fd's own: no handler runs for fd
 * after this returns. Call before closing fd. */
void loop_del_fd(struct loop *l, int fd);

/* Call fn once, ms milliseconds from now (monotonic). Returns an id (never 0)
 * for loop_del_timeout, or 0 when out of memory. */
uint64_t loop_add_timeout(struct loop *l, uint64_t ms, loop_timeout_fn fn, void *data);
/* Safe from inside handlers; ids that already fired or were removed are
 * ignored. */
void loop_del_timeout(struct loop *l, uint64_t id);

/* Monotonic milliseconds, read at the start of the current turn. */
uint64_t loop_now_ms(const struct loop *l);
/* Monotonic milliseconds, read now. */
uint64_t loop_clock_ms(void);
/* Turns completed so far (each turn: one wait, its ready descriptors, the
 * due timeouts). A module can tell from it that the loop really turns. */
uint64_t loop_turns(const struct loop *l);

/* Turn until loop_quit. Returns 0, or -errno when waiting itself fails. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l);
