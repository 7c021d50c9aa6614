/* src/journal.h: structured entries to journald over its native socket, so
 * `journalctl MXLOCK_EVENT=refused` works. No libsystemd needed. */
#ifndef MXLOCK_JOURNAL_H
#define MXLOCK_JOURNAL_H

#include <stddef.h>

struct journal;

/* Open a datagram socket to /run/systemd/journal/socket (or path). */
int journal_open(const char *path, struct journal **ret);
void journal_close(struct journal *j);

/* Send one entry: fields are "KEY=value" strings (values without newlines;
 * others are dropped). Returns 0 or negative errno. */
int journal_send(struct journal *j, const char *const *fields, size_t n);

/* The MESSAGE_ID of mxlock's refused/observed/summary entries. */
#define JOURNAL_MESSAGE_ID_ATTEMPT "6d786c6f636b4a1f9e2b7c3d5a8e0f11"

#endif
