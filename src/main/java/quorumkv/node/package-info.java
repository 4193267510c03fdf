/**
 * Node bootstrap: {@link quorumkv.node.Main} (settings, SQLite schema, then the ActorSystem),
 * {@link quorumkv.node.NodeGuardian} (the root actor) and {@link quorumkv.node.NodeWiring}, the one
 * place where a node's actors are wired together (its replica registered with the Receptionist,
 * its LeaderActor, the write forwarder, the HTTP routes). The in-JVM tests wire their nodes,
 * replicas and leaders with the same class.
 */
package quorumkv.node;
