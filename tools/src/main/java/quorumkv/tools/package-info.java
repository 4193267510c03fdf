/**
 * Tools that drive a quorumkv cluster from outside, built into tools/target/quorumkv-tools.jar and
 * run by {@code ./kv}: {@link quorumkv.tools.WriteBench} ({@code ./kv bench}), a closed-loop load
 * generator; {@link quorumkv.tools.QuorumAnalysis} ({@code ./kv analyze}), its sweep over W with
 * plots; {@link quorumkv.tools.ConsistencyCheck} ({@code ./kv check}). They speak HTTP only,
 * through {@link quorumkv.harness.NodeClient} except for the load generator's own request loop.
 * {@link quorumkv.tools.RecoveryBench} runs one replica in-process and so uses the node's classes;
 * {@link quorumkv.tools.floor.StackFloorBench} runs the node's stack (Artery, akka-persistence-jdbc
 * on SQLite, its configuration) without quorumkv, as a floor under its write figures.
 * Every command line is picocli's ({@link quorumkv.tools.ToolCommandLine}); {@code --help} lists
 * the options.
 */
package quorumkv.tools;
