/*
 * The floor: the least a chat server can do on this machine. One thread,
 * one epoll loop, IRC lines just well enough for lanchat-bench's IRC
 * clients (NICK/USER -> 001, JOIN -> 366, PRIVMSG -> one write(2) to
 * every other member), nothing else: no limits, no history, no
 * keepalive, no queue (a write the socket does not take whole is dropped,
 * and the generator reports it as lost).
 *
 * Not a server anyone should run: a yardstick for bench/server.sh
 * (TARGETS=floor), to tell what the kernel and the generator cost from
 * what a server adds. Loopback only: it binds 127.0.0.1.
 *
 *   cc -O2 -o floor floor.c && ./floor PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FD 65536
#define BUF 8192

struct client {
	int open, joined, len;
	char nick[32];
	char buf[BUF];
};

static struct client *clients[MAX_FD];
static int members[MAX_FD], nmembers;

static void say(int fd, const char *s, int n) {
	if (write(fd, s, n) < 0) { /* dropped: the generator counts it */ }
}

static void drop_client(int ep, int fd) {
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	if (clients[fd]->joined)
		for (int i = 0; i < nmembers; i++)
			if (members[i] == fd) { members[i] = members[--nmembers]; break; }
	free(clients[fd]);
	clients[fd] = NULL;
}

static void line(int fd, char *l, int n) {
	struct client *c = clients[fd];
	char out[BUF + 128];
	if (n > 0 && l[n - 1] == '\r') l[--n] = 0;
	if (!strncmp(l, "NICK ", 5)) {
		snprintf(c->nick, sizeof c->nick, "%s", l + 5);
	} else if (!strncmp(l, "USER ", 5)) {
		int k = snprintf(out, sizeof out, ":floor 001 %s :hi\r\n", c->nick);
		say(fd, out, k);
	} else if (!strncmp(l, "JOIN ", 5)) {
		c->joined = 1;
		members[nmembers++] = fd;
		int k = snprintf(out, sizeof out, ":floor 366 %s %s :End of NAMES list\r\n", c->nick, l + 5);
		say(fd, out, k);
	} else if (!strncmp(l, "PRIVMSG ", 8)) {
		int k = snprintf(out, sizeof out, ":%s!u@h %s\r\n", c->nick, l);
		for (int i = 0; i < nmembers; i++)
			if (members[i] != fd) say(members[i], out, k);
	} else if (!strncmp(l, "PING", 4)) {
		int k = snprintf(out, sizeof out, "PONG%s\r\n", l + 4);
		say(fd, out, k);
	}
}

int main(int argc, char **argv) {
	int port = argc > 1 ? atoi(argv[1]) : 16670, one = 1;
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) { perror("listen"); return 1; }
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[256];
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == ls) {
				int c;
				while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (c >= MAX_FD) { close(c); continue; }
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					clients[c] = calloc(1, sizeof(struct client));
					ev.events = EPOLLIN; ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			struct client *c = clients[fd];
			if (!c) continue;
			int r = read(fd, c->buf + c->len, BUF - c->len);
			if (r <= 0) { if (r == 0 || errno != EAGAIN) drop_client(ep, fd); continue; }
			c->len += r;
			char *start = c->buf, *nl;
			while ((nl = memchr(start, '\n', c->buf + c->len - start))) {
				*nl = 0;
				line(fd, start, nl - start);
				if (!clients[fd]) break;
				start = nl + 1;
			}
			if (!clients[fd]) continue;
			c->len -= start - c->buf;
			memmove(c->buf, start, c->len);
			if (c->len == BUF) drop_client(ep, fd);
		}
	}
}
