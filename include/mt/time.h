/* time.h — clocks and sleeping.
 *
 * Timeouts throughout libmt are double seconds, as in Python: MT_FOREVER
 * (or any negative value) waits forever, 0 never waits. Each blocking call
 * converts its timeout once to an absolute CLOCK_MONOTONIC deadline, so
 * spurious wake-ups and retries never stretch the total wait.
 */
#ifndef MT_TIME_H
#define MT_TIME_H

#ifdef __cplusplus
extern "C" {
#endif

#define MT_FOREVER (-1.0)

/* Monotonic seconds since an arbitrary point (CLOCK_MONOTONIC). */
double mt_now(void);

/* Sleeps for `seconds` (Python's time.sleep). In a coroutine it parks the
 * coroutine, not the thread. Returns 0, MT_EINVAL for a negative or NaN
 * duration, or MT_ECANCELED if the sleeping coroutine was cancelled. */
int mt_sleep(double seconds);

#ifdef __cplusplus
}
#endif
#endif
