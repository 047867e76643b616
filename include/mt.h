/* mt.h — libmt, Python-grade multitasking for C. Includes every module. */
#ifndef MT_H
#define MT_H

#define MT_VERSION_MAJOR 0
#define MT_VERSION_MINOR 1
#define MT_VERSION_PATCH 0
#define MT_VERSION_STRING "0.1.0"

#include "mt/error.h"
#include "mt/time.h"
#include "mt/alloc.h"
#include "mt/thread.h"
#include "mt/sync.h"
#include "mt/queue.h"
#include "mt/future.h"
#include "mt/pool.h"
#include "mt/proc.h"
#include "mt/signal.h"
#include "mt/ipc.h"
#include "mt/co.h"
#include "mt/io.h"
#include "mt/net.h"

#endif
