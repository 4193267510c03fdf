/**
 * Node bootstrap: {@link quorumkv.cluster.Settings} (the one typed view of application.conf and
 * its environment overrides), {@link quorumkv.cluster.Main} (SQLite schema, then the ActorSystem)
 * and {@link quorumkv.cluster.NodeGuardian} (replica, leader singleton, HTTP server).
 */
package quorumkv.cluster;
