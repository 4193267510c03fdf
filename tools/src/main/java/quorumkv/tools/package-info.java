/**
 * Command-line tools run from the node's jar by {@code ./kv}: {@link quorumkv.tools.ConsistencyCheck}
 * ({@code ./kv check}) and {@link quorumkv.tools.WriteBench} ({@code ./kv bench}), a closed-loop
 * load generator.
 */
package quorumkv.tools;
