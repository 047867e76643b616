/* rkeys.h — the Redis layout of a pool, shared by submitters (rpool.c) and
 * workers (rworker.c), and the consumer group both sides create.
 *
 * For pool P, every key starts with "mt:{P}:" (one hash slot):
 *   tasks          the stream of tasks; consumer group "workers"
 *   dead           the dead-letter stream
 *   r:CLIENT:SEQ   a result: [int32 code, little-endian][result bytes], with a TTL
 *   d:CLIENT       the submitter CLIENT's list of finished SEQs, with a TTL
 *   hb:CONSUMER    a worker's heartbeat, with a TTL
 * A task entry has the fields t (task name), c (client), s (seq), x (result
 * TTL in ms) and d (input bytes). A task is in exactly one of: the stream
 * (queued or delivered), a result key (done, dead-lettered), or nowhere
 * (fetched, cancelled, expired — or lost); scripts move it atomically.
 */
#ifndef MT_REMOTE_RKEYS_H
#define MT_REMOTE_RKEYS_H

#define MT__R_GROUP "workers"

/* Creates the stream and the group if missing: the "BUSYGROUP" error reply
 * means it already existed. */
#define MT__R_CREATE_GROUP(stream) { "XGROUP", "CREATE", (stream), MT__R_GROUP, "0", "MKSTREAM" }

#endif
