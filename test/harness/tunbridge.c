// tunbridge — test scaffolding only (the product never opens a TUN device).
//
// Opens a TUN device (IFF_TUN | IFF_NO_PI, Linux Documentation/networking/tuntap.rst) inside a
// named network namespace (/var/run/netns/NAME, entered with setns(2)) and bridges its packets
//   (a) to stdin/stdout, each packet framed by a u16 big-endian length, or
//   (b) to a second TUN device in another namespace,
// applying the same seeded impairment in each direction, in the manner of netem: loss %,
// duplication %, reordering % (a reordered packet skips the delay queue and so overtakes the
// delayed ones; with no delay it is held back by --reorder-gap ms instead) and a fixed one-way
// delay (a timed FIFO queue).
//
// Exits when stdin closes (mode a), on SIGTERM/SIGINT, or when stdout breaks. Prints "ready" on
// stderr once the devices are up, and per-direction counters on stderr at exit and on SIGUSR1.
//
// Usage: tunbridge --ns NS --dev IF [--ns2 NS2 --dev2 IF2] [--loss P] [--reorder P] [--dup P]
//                  [--delay MS] [--reorder-gap MS] [--seed N] [--mtu N] [--txqlen N]
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PKT 65536
#define IOBUF (1 << 20)
#define BACKLOG_CAP (48u << 20) // bytes queued per direction before we stop reading its source

struct pkt {
  struct pkt *next;
  uint64_t due_us;
  uint32_t len;
  uint8_t data[];
};

struct queue {
  struct pkt *head, *tail;
  size_t bytes;
};

struct stats {
  uint64_t rx, tx, lost, dup, reord, bad, wfail;
};

// One direction: packets read from `src` go through impairment into delayq, then ready, then
// out to `dst` (a TUN fd, or the framed stdout buffer when dst_pipe).
struct dir {
  const char *name;
  uint64_t rng;
  struct queue delayq; // FIFO with non-decreasing due times
  struct queue ready;  // to be written now
  struct stats st;
  int src, dst, src_pipe, dst_pipe;
  int blocked;     // last write to dst hit EAGAIN
  uint8_t *inbuf;  // src_pipe: partial frames
  size_t in_len;
  uint8_t *outbuf; // dst_pipe: frames being written
  size_t out_off, out_len;
};

static double p_loss, p_reorder, p_dup;
static uint64_t delay_us, reorder_gap_us = 1000;
static volatile sig_atomic_t stop_flag, stats_flag;

static void on_stop(int sig) { (void)sig; stop_flag = 1; }
static void on_usr1(int sig) { (void)sig; stats_flag = 1; }

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

// splitmix64: small, seedable, good enough for impairment decisions.
static double rnd(struct dir *d) {
  uint64_t z = (d->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0;
}

static void die(const char *what) {
  fprintf(stderr, "tunbridge: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void q_push(struct queue *q, struct pkt *p) {
  p->next = NULL;
  if (q->tail) q->tail->next = p;
  else q->head = p;
  q->tail = p;
  q->bytes += p->len;
}

static struct pkt *q_pop(struct queue *q) {
  struct pkt *p = q->head;
  if (!p) return NULL;
  q->head = p->next;
  if (!q->head) q->tail = NULL;
  q->bytes -= p->len;
  return p;
}

static size_t backlog(const struct dir *d) {
  return d->delayq.bytes + d->ready.bytes + (d->out_len - d->out_off);
}

static void enqueue(struct dir *d, const uint8_t *data, uint32_t len, uint64_t now) {
  d->st.rx++;
  if (p_loss > 0 && rnd(d) < p_loss) {
    d->st.lost++;
    return;
  }
  int copies = 1;
  if (p_dup > 0 && rnd(d) < p_dup) {
    copies = 2;
    d->st.dup++;
  }
  for (int i = 0; i < copies; i++) {
    struct pkt *p = malloc(sizeof *p + len);
    if (!p) die("malloc");
    p->len = len;
    memcpy(p->data, data, len);
    int reorder = p_reorder > 0 && rnd(d) < p_reorder;
    if (reorder) d->st.reord++;
    if (delay_us > 0) {
      if (reorder) {
        p->due_us = now;
        q_push(&d->ready, p); // skips the delay: overtakes everything still in delayq
      } else {
        p->due_us = now + delay_us;
        q_push(&d->delayq, p);
      }
    } else if (reorder) {
      p->due_us = now + reorder_gap_us; // held back: later packets overtake it
      q_push(&d->delayq, p);
    } else {
      p->due_us = now;
      q_push(&d->ready, p);
    }
  }
}

static void promote(struct dir *d, uint64_t now) {
  while (d->delayq.head && d->delayq.head->due_us <= now) q_push(&d->ready, q_pop(&d->delayq));
}

// Write what can be written without blocking. Returns -1 when the pipe sink is gone.
static int flush(struct dir *d) {
  if (!d->dst_pipe) {
    while (d->ready.head) {
      struct pkt *p = d->ready.head;
      ssize_t n = write(d->dst, p->data, p->len);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        d->blocked = 1;
        return 0;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) d->st.wfail++; // e.g. EINVAL for a packet the kernel rejects
      else d->st.tx++;
      free(q_pop(&d->ready));
    }
    d->blocked = 0;
    return 0;
  }
  for (;;) {
    // Pack ready packets into the out buffer.
    if (d->out_off == d->out_len) d->out_off = d->out_len = 0;
    while (d->ready.head && IOBUF - d->out_len >= d->ready.head->len + 2u) {
      struct pkt *p = q_pop(&d->ready);
      d->outbuf[d->out_len] = (uint8_t)(p->len >> 8);
      d->outbuf[d->out_len + 1] = (uint8_t)p->len;
      memcpy(d->outbuf + d->out_len + 2, p->data, p->len);
      d->out_len += p->len + 2u;
      d->st.tx++;
      free(p);
    }
    if (d->out_off == d->out_len) {
      d->blocked = 0;
      return 0;
    }
    ssize_t n = write(d->dst, d->outbuf + d->out_off, d->out_len - d->out_off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      d->blocked = 1;
      return 0;
    }
    if (n < 0) return -1;
    d->out_off += (size_t)n;
    if (d->out_off < d->out_len) {
      // Partial write: move the rest to the front so more frames fit next time.
      memmove(d->outbuf, d->outbuf + d->out_off, d->out_len - d->out_off);
      d->out_len -= d->out_off;
      d->out_off = 0;
    }
  }
}

// Read from the source without blocking. Returns -1 on EOF of a pipe source.
static int pump_in(struct dir *d, uint8_t *buf) {
  uint64_t now = now_us();
  if (!d->src_pipe) {
    for (int i = 0; i < 256 && backlog(d) < BACKLOG_CAP; i++) {
      ssize_t n = read(d->src, buf, MAX_PKT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0) die("read tun");
      if (n == 0) break;
      enqueue(d, buf, (uint32_t)n, now);
    }
    return 0;
  }
  for (;;) {
    ssize_t n = read(d->src, d->inbuf + d->in_len, IOBUF - d->in_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n < 0) die("read stdin");
    if (n == 0) return -1;
    d->in_len += (size_t)n;
    size_t off = 0;
    while (d->in_len - off >= 2) {
      uint32_t len = ((uint32_t)d->inbuf[off] << 8) | d->inbuf[off + 1];
      if (d->in_len - off < len + 2u) break;
      if (len == 0) d->st.bad++;
      else enqueue(d, d->inbuf + off + 2, len, now);
      off += len + 2u;
    }
    memmove(d->inbuf, d->inbuf + off, d->in_len - off);
    d->in_len -= off;
    if (backlog(d) >= BACKLOG_CAP || d->in_len == IOBUF) return 0;
  }
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) die("fcntl");
}

static int open_tun(const char *ns, const char *ifname, int mtu, int txqlen) {
  char path[300];
  snprintf(path, sizeof path, "/var/run/netns/%s", ns);
  int nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) die(path);
  if (setns(nsfd, CLONE_NEWNET) < 0) die("setns");
  close(nsfd);
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) die("/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  ifr.ifr_mtu = mtu;
  if (ioctl(s, SIOCSIFMTU, &ifr) < 0) die("SIOCSIFMTU");
  ifr.ifr_qlen = txqlen;
  if (ioctl(s, SIOCSIFTXQLEN, &ifr) < 0) die("SIOCSIFTXQLEN");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("SIOCSIFFLAGS");
  close(s);
  set_nonblock(fd);
  return fd;
}

static void print_stats(const struct dir *d) {
  fprintf(stderr, "stats %s rx=%llu tx=%llu lost=%llu dup=%llu reord=%llu bad=%llu wfail=%llu\n", d->name,
          (unsigned long long)d->st.rx, (unsigned long long)d->st.tx, (unsigned long long)d->st.lost,
          (unsigned long long)d->st.dup, (unsigned long long)d->st.reord, (unsigned long long)d->st.bad,
          (unsigned long long)d->st.wfail);
}

int main(int argc, char **argv) {
  const char *ns = NULL, *dev = NULL, *ns2 = NULL, *dev2 = NULL;
  uint64_t seed = 1;
  int mtu = 1500, txqlen = 10000;
  static const struct option opts[] = {
      {"ns", 1, 0, 'n'},   {"dev", 1, 0, 'd'},     {"ns2", 1, 0, 'N'},    {"dev2", 1, 0, 'D'},
      {"loss", 1, 0, 'l'}, {"reorder", 1, 0, 'r'}, {"dup", 1, 0, 'u'},    {"delay", 1, 0, 't'},
      {"seed", 1, 0, 's'}, {"mtu", 1, 0, 'm'},     {"txqlen", 1, 0, 'q'}, {"reorder-gap", 1, 0, 'g'},
      {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'n': ns = optarg; break;
    case 'd': dev = optarg; break;
    case 'N': ns2 = optarg; break;
    case 'D': dev2 = optarg; break;
    case 'l': p_loss = atof(optarg) / 100.0; break;
    case 'r': p_reorder = atof(optarg) / 100.0; break;
    case 'u': p_dup = atof(optarg) / 100.0; break;
    case 't': delay_us = (uint64_t)(atof(optarg) * 1000.0); break;
    case 'g': reorder_gap_us = (uint64_t)(atof(optarg) * 1000.0); break;
    case 's': seed = strtoull(optarg, NULL, 10); break;
    case 'm': mtu = atoi(optarg); break;
    case 'q': txqlen = atoi(optarg); break;
    default: fprintf(stderr, "tunbridge: bad option\n"); return 2;
    }
  }
  if (!ns || !dev || (!ns2) != (!dev2)) {
    fprintf(stderr, "usage: tunbridge --ns NS --dev IF [--ns2 NS2 --dev2 IF2] [--loss P] [--reorder P] "
                    "[--dup P] [--delay MS] [--reorder-gap MS] [--seed N] [--mtu N] [--txqlen N]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);

  int fa = open_tun(ns, dev, mtu, txqlen);
  int stdio = ns2 == NULL;
  int fb_in = 0, fb_out = 1;
  if (!stdio) fb_in = fb_out = open_tun(ns2, dev2, mtu, txqlen);
  else {
    set_nonblock(0);
    set_nonblock(1);
    // Bigger pipes: fewer wakeups per MB (best effort; capped by fs.pipe-max-size).
    fcntl(0, F_SETPIPE_SZ, 1 << 20);
    fcntl(1, F_SETPIPE_SZ, 1 << 20);
  }
  static struct dir a2b, b2a;
  a2b = (struct dir){.name = "a2b", .rng = seed * 2 + 1, .src = fa, .dst = fb_out, .dst_pipe = stdio};
  b2a = (struct dir){.name = "b2a", .rng = seed * 2 + 2, .src = fb_in, .dst = fa, .src_pipe = stdio};
  if (stdio) {
    a2b.outbuf = malloc(IOBUF);
    b2a.inbuf = malloc(IOBUF);
    if (!a2b.outbuf || !b2a.inbuf) die("malloc");
  }
  uint8_t *buf = malloc(MAX_PKT);
  if (!buf) die("malloc");
  fprintf(stderr, "ready %s%s%s\n", dev, stdio ? "" : " ", stdio ? "" : dev2);

  struct dir *dirs[2] = {&a2b, &b2a};
  int rc = 0;
  while (!stop_flag) {
    if (stats_flag) {
      stats_flag = 0;
      print_stats(&a2b);
      print_stats(&b2a);
    }
    uint64_t now = now_us();
    for (int i = 0; i < 2; i++) {
      promote(dirs[i], now);
      if (flush(dirs[i]) < 0) stop_flag = 1;
    }
    if (stop_flag) break;
    // Poll set. In TUN↔TUN mode fa/fb are both read and written: merge events per fd.
    struct pollfd pf[4];
    int n = 0;
    int ia = -1, ib_in = -1, ib_out = -1;
    pf[n] = (struct pollfd){.fd = fa, .events = 0};
    ia = n++;
    if (backlog(&a2b) < BACKLOG_CAP) pf[ia].events |= POLLIN;
    if (b2a.blocked) pf[ia].events |= POLLOUT;
    if (stdio) {
      pf[n] = (struct pollfd){.fd = 0, .events = backlog(&b2a) < BACKLOG_CAP ? POLLIN : 0};
      ib_in = n++;
      pf[n] = (struct pollfd){.fd = 1, .events = a2b.blocked ? POLLOUT : 0};
      ib_out = n++;
    } else {
      pf[n] = (struct pollfd){.fd = fb_in, .events = 0};
      ib_in = ib_out = n++;
      if (backlog(&b2a) < BACKLOG_CAP) pf[ib_in].events |= POLLIN;
      if (a2b.blocked) pf[ib_in].events |= POLLOUT;
    }
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < 2; i++)
      if (dirs[i]->delayq.head && dirs[i]->delayq.head->due_us < next) next = dirs[i]->delayq.head->due_us;
    struct timespec ts, *tsp = NULL;
    if (next != UINT64_MAX) {
      uint64_t wait = next > now ? next - now : 0;
      ts.tv_sec = (time_t)(wait / 1000000u);
      ts.tv_nsec = (long)(wait % 1000000u) * 1000;
      tsp = &ts;
    }
    int r = ppoll(pf, (nfds_t)n, tsp, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("ppoll");
    }
    if (r == 0) continue;
    if (pf[ia].revents & (POLLIN | POLLERR)) pump_in(&a2b, buf);
    if (pf[ib_in].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (pump_in(&b2a, buf) < 0) break; // stdin closed: the node side is gone
    }
    if (stdio && (pf[ib_out].revents & (POLLERR | POLLHUP))) {
      rc = 0;
      break;
    }
  }
  print_stats(&a2b);
  print_stats(&b2a);
  return rc;
}
