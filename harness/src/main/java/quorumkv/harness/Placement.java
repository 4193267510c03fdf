package quorumkv.harness;

import java.net.URI;
import java.util.List;
import java.util.Map;

/**
 * Where a {@link Cluster}'s node JVMs run and how they reach each other: on 127.0.0.1
 * ({@link Loopback}) or each in a network namespace of its own ({@link NetworkNamespaces}). The
 * cluster owns the processes; a placement owns the network around them.
 */
public interface Placement {
  /** A short name for temporary directories and log banners, e.g. "loopback". */
  String name();

  /** Sets up what the nodes need before the first start; on failure, removes what it created and throws. */
  void open();

  /** Node n's HTTP base URI, as clients in this process reach it. */
  URI uri(int n);

  /** Node n's addresses: HTTP_HOST, HTTP_PORT, CLUSTER_HOST, CLUSTER_PORT, SEED_NODES. */
  Map<String, String> addresses(int n);

  /** What runs the java command for node n (e.g. {@code ip netns exec qkv-n3}); empty to run it directly. */
  List<String> launcher(int n);

  /** JVM options for every node. */
  List<String> jvmOptions();

  /** Waits until node n can start (e.g. its ports are free). */
  void beforeStart(int n);

  /** Checks node n's freshly started process; throws if it is not the node's JVM where it belongs. */
  void afterStart(int n, Process jvm);

  /** Removes what {@link #open()} created. Never throws: it also runs from a shutdown hook. */
  void close();
}
