// A Curator contender for zklock's interop tests (tests/interop.rs).
//
// usage: CuratorWorker HOSTS PATH KIND ID LOG ITERATIONS HOLD_MS [MAX_LEASES]
//
// KIND: lock (InterProcessMutex), rw (InterProcessReadWriteLock: the read
//       lock, every third round the write lock), read, write,
//       sem (InterProcessSemaphoreV2 with MAX_LEASES),
//       revocable (hold mode only: an InterProcessMutex made revocable; on a
//       revocation request it prints "revoked" and releases),
//       revoke (PATH is a contender node: Revoker.attemptRevoke on it,
//       then print "revoked" and exit).
// Each round acquires, appends "ms resource role enter ID 0" to LOG (one
// O_APPEND write per record), holds HOLD_MS, appends the exit record and
// releases. ITERATIONS = 0 is hold mode: acquire once, print "held", wait
// for a line on stdin, release, print "released".

import java.io.BufferedReader;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.locks.Revoker;
import java.util.concurrent.CountDownLatch;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class CuratorWorker {
    static void record(String log, String resource, String role, String kind, String holder) throws Exception {
        String line = System.currentTimeMillis() + " " + resource + " " + role + " " + kind + " " + holder + " 0\n";
        try (FileOutputStream out = new FileOutputStream(log, true)) { // O_APPEND
            out.write(line.getBytes(StandardCharsets.UTF_8));
        }
    }

    public static void main(String[] a) throws Exception {
        String hosts = a[0], path = a[1], kind = a[2], id = a[3], log = a[4];
        int iterations = Integer.parseInt(a[5]), holdMs = Integer.parseInt(a[6]);
        int maxLeases = a.length > 7 ? Integer.parseInt(a[7]) : 1;
        CuratorFramework client = CuratorFrameworkFactory.newClient(
            hosts, 10000, 10000, new ExponentialBackoffRetry(100, 10));
        client.start();
        client.blockUntilConnected();
        if (kind.equals("revoke")) {
            Revoker.attemptRevoke(client, path);
            System.out.println("revoked");
            System.out.flush();
            client.close();
            return;
        }
        // Released by a line on stdin, or (revocable) by a revocation request.
        CountDownLatch done = new CountDownLatch(1);
        InterProcessMutex mutex = new InterProcessMutex(client, path);
        InterProcessReadWriteLock rw = new InterProcessReadWriteLock(client, path);
        InterProcessSemaphoreV2 sem = new InterProcessSemaphoreV2(client, path, maxLeases);
        int rounds = iterations == 0 ? 1 : iterations;
        for (int i = 0; i < rounds; i++) {
            String resource, role;
            InterProcessLock lock = null;
            Lease lease = null;
            if (kind.equals("lock")) {
                resource = "lock"; role = "x"; lock = mutex;
            } else if (kind.equals("revocable")) {
                resource = "lock"; role = "x"; lock = mutex;
                mutex.makeRevocable(m -> {
                    System.out.println("revoked");
                    System.out.flush();
                    done.countDown();
                });
            } else if (kind.equals("sem")) {
                resource = "sem"; role = "s";
            } else if (kind.equals("write") || (kind.equals("rw") && i % 3 == 0)) {
                resource = "rw"; role = "w"; lock = rw.writeLock();
            } else {
                resource = "rw"; role = "r"; lock = rw.readLock();
            }
            if (lock != null) {
                lock.acquire();
            } else {
                lease = sem.acquire();
            }
            if (iterations == 0) {
                System.out.println("held");
                System.out.flush();
                Thread stdin = new Thread(() -> {
                    try {
                        new BufferedReader(new InputStreamReader(System.in)).readLine();
                    } catch (Exception e) {
                        // the end of stdin releases too
                    }
                    done.countDown();
                });
                stdin.setDaemon(true);
                stdin.start();
                done.await();
            } else {
                record(log, resource, role, "enter", id);
                Thread.sleep(holdMs); // the work the lock protects
                record(log, resource, role, "exit", id);
            }
            if (lock != null) {
                lock.release();
            } else {
                sem.returnLease(lease);
            }
            if (iterations == 0) {
                System.out.println("released");
                System.out.flush();
            }
        }
        client.close();
    }
}
