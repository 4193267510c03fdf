/**
 * Node bootstrap: {@link quorumkv.config.Settings} (the one typed view of application.conf and
 * its environment overrides), {@link quorumkv.node.Main} (SQLite schema, then the ActorSystem)
 * and {@link quorumkv.node.NodeGuardian} (replica, leader singleton, HTTP server).
 */
package quorumkv.node;
