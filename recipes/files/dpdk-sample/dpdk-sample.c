/* dpdk-sample: the smallest DPDK program that touches the pieces a lab talks about.
 *
 * EAL up without hugepages and without PCI, an mbuf pool, two rings and a worker lcore:
 * the main lcore fills mbufs with sequence numbers and sends them through one ring to the
 * worker, which stamps each one and sends it back through the other ring; the main lcore
 * checks every stamp and frees the mbufs, and at the end the pool must be full again.
 *
 * Usage: dpdk-sample [EAL options]   (no options: the defaults below, two lcores on the
 * first two CPUs this process may use, or both on one CPU when it may use only one)
 * Exit status: 0 pass, 1 fail.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_version.h>

#define POOL_SIZE 511   /* 2^n - 1: the mempool's ring is used best */
#define RING_SIZE 1024  /* more than POOL_SIZE: an enqueue never finds a full ring */
#define BURST 32u
#define TOTAL 100000u
#define STAMP 0x5a5a5a5a00000000ull

struct payload { uint64_t seq; uint64_t stamp; uint32_t lcore; };

struct shared { struct rte_ring *to_worker, *to_main; };

/* Worker lcore: stamp every mbuf and send it back; returns how many it handled. */
static int worker_loop(void *arg)
{
	struct shared *sh = arg;
	struct rte_mbuf *burst[BURST];
	unsigned int handled = 0;

	while (handled < TOTAL) {
		unsigned int n = rte_ring_dequeue_burst(sh->to_worker, (void **)burst, BURST, NULL);
		for (unsigned int i = 0; i < n; i++) {
			struct payload *p = rte_pktmbuf_mtod(burst[i], struct payload *);
			p->stamp = STAMP | p->seq;
			p->lcore = rte_lcore_id();
		}
		for (unsigned int done = 0; done < n; )
			done += rte_ring_enqueue_burst(sh->to_main, (void **)burst + done, n - done, NULL);
		handled += n;
	}
	return (int)handled;
}

/* The default EAL arguments: two lcores on the first two CPUs of our affinity mask. */
static int default_args(char **argv, char *lcores, size_t len, char *prefix, size_t plen)
{
	cpu_set_t set;
	int cpus[2] = {0, 0}, found = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
			if (CPU_ISSET(c, &set))
				cpus[found++] = c;
	if (found == 1)
		cpus[1] = cpus[0];
	snprintf(lcores, len, "--lcores=0@%d,1@%d", cpus[0], cpus[1]);
	snprintf(prefix, plen, "--file-prefix=dpdk-sample-%ld", (long)getpid());
	int n = 0;
	argv[n++] = "dpdk-sample";
	argv[n++] = "--no-huge";     /* malloc'd memory instead of hugetlbfs */
	argv[n++] = "--no-pci";      /* no PCI scan: no devices, no root needed for that */
	argv[n++] = "--no-shconf";   /* no shared config files: nothing left on disk */
	argv[n++] = "--no-telemetry";
	argv[n++] = "-m";
	argv[n++] = "64";
	argv[n++] = lcores;
	argv[n++] = prefix;
	argv[n] = NULL;
	return n;
}

static int fail(const char *what)
{
	fprintf(stderr, "FAIL: %s: %s\n", what, rte_strerror(rte_errno));
	return 1;
}

int main(int argc, char **argv)
{
	char *eal_argv[16], lcores[64], prefix[64], rundir[4096] = "";
	int eal_argc = argc;

	if (argc >= 15) {
		fprintf(stderr, "FAIL: at most 14 EAL arguments\n");
		return 1;
	}
	if (argc <= 1)
		eal_argc = default_args(eal_argv, lcores, sizeof(lcores), prefix, sizeof(prefix));
	else
		memcpy(eal_argv, argv, sizeof(char *) * (size_t)(argc + 1));
	for (int i = 0; i < eal_argc; i++)
		printf("%s%s", i ? " " : "EAL arguments: ", eal_argv[i]);
	printf("\n");
	fflush(stdout);

	if (rte_eal_init(eal_argc, eal_argv) < 0)
		return fail("rte_eal_init");
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	printf("EAL up: %s, %u lcores, main lcore %u, socket %d, IOVA as %s\n", rte_version(),
	       rte_lcore_count(), rte_get_main_lcore(), (int)rte_socket_id(),
	       rte_eal_iova_mode() == RTE_IOVA_VA ? "VA" : "PA");

	unsigned int worker = rte_get_next_lcore(-1, 1, 0);
	if (worker >= RTE_MAX_LCORE) {
		fprintf(stderr, "FAIL: no worker lcore: give two lcores (-l 0-1 or --lcores=0@0,1@0)\n");
		return 1;
	}
	struct rte_mempool *pool = rte_pktmbuf_pool_create("sample_pool", POOL_SIZE, BURST, 0,
			RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (pool == NULL)
		return fail("rte_pktmbuf_pool_create");
	struct shared sh = {
		rte_ring_create("to_worker", RING_SIZE, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ),
		rte_ring_create("to_main", RING_SIZE, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ),
	};
	if (sh.to_worker == NULL || sh.to_main == NULL)
		return fail("rte_ring_create");
	printf("mbuf pool: %u mbufs of %u bytes (ops %s); rings: 2 x %u slots\n", POOL_SIZE,
	       rte_pktmbuf_data_room_size(pool), rte_mempool_get_ops(pool->ops_index)->name,
	       rte_ring_get_size(sh.to_worker));

	if (rte_eal_remote_launch(worker_loop, &sh, worker) != 0)
		return fail("rte_eal_remote_launch");

	struct rte_mbuf *burst[BURST];
	unsigned int sent = 0, received = 0, bad = 0, in_flight = 0;
	uint32_t seen_lcore = RTE_MAX_LCORE;
	while (received < TOTAL) {
		unsigned int want = RTE_MIN(BURST, TOTAL - sent);
		if (want > 0 && in_flight + want <= POOL_SIZE - BURST &&
		    rte_pktmbuf_alloc_bulk(pool, burst, want) == 0) {
			for (unsigned int i = 0; i < want; i++) {
				struct payload *p = (struct payload *)rte_pktmbuf_append(burst[i], sizeof(*p));
				p->seq = sent + i;
				p->stamp = 0;
			}
			for (unsigned int done = 0; done < want; )
				done += rte_ring_enqueue_burst(sh.to_worker, (void **)burst + done, want - done, NULL);
			sent += want;
			in_flight += want;
		}
		unsigned int n = rte_ring_dequeue_burst(sh.to_main, (void **)burst, BURST, NULL);
		for (unsigned int i = 0; i < n; i++) {
			struct payload *p = rte_pktmbuf_mtod(burst[i], struct payload *);
			if (p->seq != received + i || p->stamp != (STAMP | p->seq) || p->lcore == rte_lcore_id())
				bad++;
			seen_lcore = p->lcore;
		}
		rte_pktmbuf_free_bulk(burst, n);
		received += n;
		in_flight -= n;
	}
	int handled = rte_eal_wait_lcore(worker);
	unsigned int free_now = rte_mempool_avail_count(pool);
	printf("ring round trip: %u mbufs main lcore %u -> worker lcore %u -> main; worker handled %d, "
	       "%u bad; pool %u/%u free\n", received, rte_lcore_id(), seen_lcore, handled, bad,
	       free_now, POOL_SIZE);

	int ok = bad == 0 && handled == (int)TOTAL && seen_lcore == worker && free_now == POOL_SIZE;
	rte_ring_free(sh.to_worker);
	rte_ring_free(sh.to_main);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	/* with --no-shconf the runtime folder is empty: leave nothing behind */
	if (rundir[0] != '\0' && rmdir(rundir) == 0) {
		char *slash = strrchr(rundir, '/');
		if (slash != NULL) {
			*slash = '\0';
			rmdir(rundir);  /* the parent (/var/run/dpdk) too, when nothing else is in it */
		}
	}
	if (!ok) {
		fprintf(stderr, "FAIL: the round trip lost or damaged mbufs\n");
		return 1;
	}
	printf("PASS: EAL, mbuf pool, rings and a worker lcore work\n");
	return 0;
}
