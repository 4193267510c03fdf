/**
 * Command-line tools run from the node's jar by {@code ./kv}: {@link quorumkv.cli.ConsistencyCheck}
 * ({@code ./kv check}) and {@link quorumkv.cli.WriteBench} ({@code ./kv bench}), a closed-loop
 * load generator.
 */
package quorumkv.cli;
