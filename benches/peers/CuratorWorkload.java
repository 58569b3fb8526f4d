// The lock workloads of scripts/bench-peers, with Curator (see
// examples/workload.rs for the same workloads with zklock, and
// kazoo_workload.py with kazoo).
//
// usage: CuratorWorkload HOSTS PATH WORKLOAD ARGS...
//   floor N | uncontended N | threads T SECS SESSIONS [shared|each] | rw T SECS | sem T SECS LEASES
// (threads: one InterProcessMutex for every thread of a session, or one each;
// Curator's mutex may be shared by threads, each holding it in turn)
// Prints one "result key=value ..." line.

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;

public class CuratorWorkload {
    static CuratorFramework client(String hosts) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, 10000, 10000, new ExponentialBackoffRetry(100, 10));
        c.start();
        c.blockUntilConnected();
        return c;
    }

    /** Runs the threads for secs seconds (the run's length), then stops and joins them; returns how long they ran. */
    static double runFor(int secs, AtomicBoolean stop, List<Thread> ts) throws InterruptedException {
        long start = System.nanoTime();
        for (Thread t : ts) t.start();
        Thread.sleep(secs * 1000L);
        stop.set(true);
        double took = (System.nanoTime() - start) / 1e9;
        for (Thread t : ts) t.join();
        return took;
    }

    static double pct(List<Double> v, double p) {
        if (v.isEmpty()) return Double.NaN;
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        return s.get((int) Math.round((s.size() - 1) * p));
    }

    public static void main(String[] a) throws Exception {
        String hosts = a[0], path = a[1], what = a[2];
        CuratorFramework zk = client(hosts);
        if (what.equals("floor") || what.equals("uncontended")) {
            int n = Integer.parseInt(a[3]);
            zk.create().orSetData().creatingParentsIfNeeded().forPath(path);
            InterProcessMutex lock = new InterProcessMutex(zk, path);
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                if (what.equals("floor")) {
                    String p = zk.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(path + "/n-");
                    zk.getChildren().forPath(path);
                    zk.delete().forPath(p);
                } else {
                    lock.acquire();
                    lock.release();
                }
            }
            double took = (System.nanoTime() - start) / 1e9;
            System.out.printf("result ops=%d secs=%.3f ms_per_op=%.3f%n", n, took, took * 1e3 / n);
        } else if (what.equals("threads")) {
            int threads = Integer.parseInt(a[3]), secs = Integer.parseInt(a[4]), sessions = Integer.parseInt(a[5]);
            boolean each = a.length > 6 && a[6].equals("each");
            InterProcessMutex shared = new InterProcessMutex(zk, path);
            AtomicBoolean stop = new AtomicBoolean();
            List<double[]> timeline = Collections.synchronizedList(new ArrayList<>());
            List<Thread> ts = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                CuratorFramework c = sessions == 1 ? zk : client(hosts);
                ts.add(new Thread(() -> {
                    try {
                        InterProcessMutex lock = sessions == 1 && !each ? shared : new InterProcessMutex(c, path);
                        while (!stop.get()) {
                            long asked = System.nanoTime();
                            lock.acquire();
                            long got = System.nanoTime(), rel = System.nanoTime();
                            lock.release();
                            long done = System.nanoTime();
                            timeline.add(new double[] {got, rel, done, (got - asked) / 1e6});
                        }
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            double took = runFor(secs, stop, ts);
            List<double[]> tl = new ArrayList<>(timeline);
            tl.sort((x, y) -> Double.compare(x[0], y[0]));
            List<Double> waits = new ArrayList<>(), fromReturn = new ArrayList<>(), fromStart = new ArrayList<>();
            for (double[] t : tl) waits.add(t[3]);
            for (int i = 1; i < tl.size(); i++) {
                // a hand-off: the next holder was waiting when the release was called
                if (tl.get(i)[0] - tl.get(i)[3] * 1e6 > tl.get(i - 1)[1]) continue;
                fromReturn.add((tl.get(i)[0] - tl.get(i - 1)[2]) / 1e6);
                fromStart.add((tl.get(i)[0] - tl.get(i - 1)[1]) / 1e6);
            }
            int n = tl.size();
            System.out.printf("result ops=%d secs=%.3f per_sec=%.1f p50_ms=%.3f p99_ms=%.3f handoff_p50_ms=%.3f handoff_from_start_p50_ms=%.3f handoff_from_start_p99_ms=%.3f%n",
                n, took, n / took, pct(waits, 0.5), pct(waits, 0.99), pct(fromReturn, 0.5), pct(fromStart, 0.5), pct(fromStart, 0.99));
        } else {
            boolean sem = what.equals("sem");
            int threads = Integer.parseInt(a[3]), secs = Integer.parseInt(a[4]);
            int leases = sem ? Integer.parseInt(a[5]) : 1;
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong ops = new AtomicLong();
            InterProcessReadWriteLock rw = new InterProcessReadWriteLock(zk, path);
            List<Thread> ts = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                final int id = i;
                ts.add(new Thread(() -> {
                    try {
                        InterProcessSemaphoreV2 s = new InterProcessSemaphoreV2(zk, path, leases);
                        long n = id;
                        while (!stop.get()) {
                            n++;
                            if (sem) {
                                Lease l = s.acquire();
                                s.returnLease(l);
                            } else if (n % 10 == 0) {
                                rw.writeLock().acquire();
                                rw.writeLock().release();
                            } else {
                                rw.readLock().acquire();
                                rw.readLock().release();
                            }
                            ops.incrementAndGet();
                        }
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            double took = runFor(secs, stop, ts);
            System.out.printf("result ops=%d secs=%.3f per_sec=%.1f%n", ops.get(), took, ops.get() / took);
        }
        zk.close();
    }
}
