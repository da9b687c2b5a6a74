// The bench's CPU at load in miniature, to see what a per-chunk CPU burn costs besides itself
// (docs/bench.md#the-burn-read). Built and run by scripts/burn-wake.
//
// A "mock" thread on CPU 0 writes a 64-byte message to each of 4 pipes every 10 ms, all four
// at once (as the bench's evenly spaced starts put four conversations' chunks on one instant)
// or 2.5 ms apart (--spread); a "server" thread on CPU 1 waits in epoll, reads each message,
// burns --burn-us of its own CPU time (spinning on CLOCK_THREAD_CPUTIME_ID, as
// backends/core/src/inject.rs does) and writes a message to the matching output pipe; a
// "client" thread on CPU 0 reads those, asleep in epoll between them (or spinning on
// non-blocking reads with --client-spins, so no write ever has to wake it).
//
// --tcp carries the messages over loopback TCP connections (Nagle off) instead of pipes, as
// the bench's hops do; --burn-after burns after the write instead of before it (the write then leaves as early as a
// clean server's); --mock-busy-us N keeps CPU 0 busy for N µs after each send (the mock
// spins), so a write landing within it finds that core awake.
//
// Prints the server's CPU per message (its thread clock, which a cgroup reads alike): in the
// burn, in the write (the system call that wakes the client), and the rest; how often the
// client went to sleep per message; and the rescheduling and function-call IPIs each CPU took
// per message over the measured window (/proc/interrupts: a remote wake-up sends one of them).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STREAMS 4
#define GAP_NS 10000000LL

static int up[STREAMS][2], down[STREAMS][2];
static int spread, client_spins, burn_after, mock_busy_us, tcp;
static atomic_int stop;
static atomic_long messages;
static long client_sleeps;

static long long now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

// A connected loopback TCP pair in the shape of pipe(): fds[0] reads, fds[1] writes.
static int tcp_pair(int fds[2]) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
      getsockname(l, (struct sockaddr *)&a, &len))
    return -1;
  fds[1] = socket(AF_INET, SOCK_STREAM, 0);
  if (fds[1] < 0 || connect(fds[1], (struct sockaddr *)&a, sizeof a)) return -1;
  fds[0] = accept(l, 0, 0);
  close(l);
  if (fds[0] < 0) return -1;
  setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return 0;
}

static void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  sched_setaffinity(0, sizeof s, &s);
}

static void sleep_until(long long at) {
  struct timespec t = {at / 1000000000LL, at % 1000000000LL};
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, 0);
}

static void *mock(void *unused) {
  (void)unused;
  pin(0);
  char msg[64] = {0};
  long long next = now_ns(CLOCK_MONOTONIC);
  while (!atomic_load(&stop)) {
    for (int i = 0; i < STREAMS; i++) {
      if (spread || i == 0) {
        next += spread ? GAP_NS / STREAMS : GAP_NS;
        sleep_until(next);
      }
      if (write(up[i][1], msg, sizeof msg) < 0) return 0;
      if (mock_busy_us) {
        long long until = now_ns(CLOCK_MONOTONIC) + mock_busy_us * 1000LL;
        while (now_ns(CLOCK_MONOTONIC) < until) {
        }
      }
    }
  }
  return 0;
}

static void *client(void *unused) {
  (void)unused;
  pin(0);
  char buf[256];
  if (client_spins) {
    for (int i = 0; i < STREAMS; i++) fcntl(down[i][0], F_SETFL, O_NONBLOCK);
    while (!atomic_load(&stop))
      for (int i = 0; i < STREAMS; i++)
        if (read(down[i][0], buf, sizeof buf) < 0) continue;
  } else {
    int ep = epoll_create1(0);
    for (int i = 0; i < STREAMS; i++) {
      struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
      epoll_ctl(ep, EPOLL_CTL_ADD, down[i][0], &e);
    }
    struct epoll_event ev[STREAMS];
    while (!atomic_load(&stop)) {
      int n = epoll_wait(ep, ev, STREAMS, 100);
      for (int j = 0; j < n; j++)
        if (read(down[ev[j].data.u32][0], buf, sizeof buf) < 0) continue;
    }
  }
  struct rusage u;
  getrusage(RUSAGE_THREAD, &u);
  client_sleeps = u.ru_nvcsw;
  return 0;
}

// Rescheduling plus function-call interrupts per CPU (/proc/interrupts rows RES and CAL).
static void ipis(long long out[2]) {
  out[0] = out[1] = 0;
  FILE *f = fopen("/proc/interrupts", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char name[16];
    long long a, b;
    if (sscanf(line, " %15[^:]: %lld %lld", name, &a, &b) == 3 &&
        (!strcmp(name, "RES") || !strcmp(name, "CAL"))) {
      out[0] += a;
      out[1] += b;
    }
  }
  fclose(f);
}

static void spin_cpu(long long ns) {
  long long from = now_ns(CLOCK_THREAD_CPUTIME_ID), until = from + ns;
  while (now_ns(CLOCK_THREAD_CPUTIME_ID) < until) {
  }
}

int main(int argc, char **argv) {
  int burn_us = 0, seconds = 4;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--burn-us") && i + 1 < argc) burn_us = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--spread")) spread = 1;
    else if (!strcmp(argv[i], "--client-spins")) client_spins = 1;
    else if (!strcmp(argv[i], "--burn-after")) burn_after = 1;
    else if (!strcmp(argv[i], "--tcp")) tcp = 1;
    else if (!strcmp(argv[i], "--mock-busy-us") && i + 1 < argc) mock_busy_us = atoi(argv[++i]);
    else {
      fprintf(stderr,
              "usage: %s [--burn-us N] [--seconds S] [--spread] [--client-spins] [--burn-after] "
              "[--mock-busy-us N] [--tcp]\n",
              argv[0]);
      return 2;
    }
  }
  for (int i = 0; i < STREAMS; i++)
    if (tcp ? tcp_pair(up[i]) || tcp_pair(down[i]) : pipe(up[i]) || pipe(down[i]))
      return perror("pipe"), 1;
  pin(1);
  int ep = epoll_create1(0);
  for (int i = 0; i < STREAMS; i++) {
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, up[i][0], &e);
  }
  pthread_t m, c;
  pthread_create(&c, 0, client, 0);
  pthread_create(&m, 0, mock, 0);
  // One second of warm-up, then the measured part.
  long long begin = now_ns(CLOCK_MONOTONIC) + 1000000000LL;
  long long end = begin + seconds * 1000000000LL;
  long long cpu_start = -1, burnt = 0, in_write = 0, counted = 0, ipi0[2], ipi1[2];
  char msg[64];
  struct epoll_event ev[STREAMS];
  while (now_ns(CLOCK_MONOTONIC) < end) {
    int n = epoll_wait(ep, ev, STREAMS, 100);
    if (cpu_start < 0 && now_ns(CLOCK_MONOTONIC) >= begin) {
      ipis(ipi0);
      cpu_start = now_ns(CLOCK_THREAD_CPUTIME_ID);
      burnt = in_write = counted = 0;
    }
    for (int j = 0; j < n; j++) {
      int i = ev[j].data.u32;
      if (read(up[i][0], msg, sizeof msg) < 0) continue;
      long long from = now_ns(CLOCK_THREAD_CPUTIME_ID);
      if (burn_us && !burn_after) spin_cpu(burn_us * 1000LL);
      long long before_write = now_ns(CLOCK_THREAD_CPUTIME_ID);
      if (write(down[i][1], msg, sizeof msg) < 0) continue;
      long long after_write = now_ns(CLOCK_THREAD_CPUTIME_ID);
      in_write += after_write - before_write;
      if (burn_us && burn_after) spin_cpu(burn_us * 1000LL);
      burnt += now_ns(CLOCK_THREAD_CPUTIME_ID) - after_write + before_write - from;
      counted++;
      atomic_fetch_add(&messages, 1);
    }
  }
  long long cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
  ipis(ipi1);
  atomic_store(&stop, 1);
  pthread_join(m, 0);
  pthread_join(c, 0);
  printf("{\"burn_us\": %d, \"burn\": \"%s\", \"via\": \"%s\", \"spread\": %s, \"client\": \"%s\", "
         "\"mock_busy_us\": %d, \"messages\": %lld, "
         "\"server_cpu_us_per_message\": %.1f, \"in_the_burn_us\": %.1f, \"in_write_us\": %.1f, "
         "\"rest_us\": %.1f, \"client_sleeps_per_message\": %.2f, "
         "\"ipis_per_message_cpu0\": %.2f, \"ipis_per_message_cpu1\": %.2f}\n",
         burn_us, burn_after ? "after" : "before", tcp ? "tcp" : "pipe", spread ? "true" : "false",
         client_spins ? "spins" : "sleeps", mock_busy_us, counted, cpu / 1e3 / counted,
         burnt / 1e3 / counted, in_write / 1e3 / counted, (cpu - burnt - in_write) / 1e3 / counted,
         (double)client_sleeps / atomic_load(&messages), (double)(ipi1[0] - ipi0[0]) / counted,
         (double)(ipi1[1] - ipi0[1]) / counted);
  return 0;
}
