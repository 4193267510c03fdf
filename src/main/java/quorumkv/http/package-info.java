/**
 * The HTTP API of every node, akka-http Java DSL. {@link quorumkv.http.KvRoutes} asks the actors
 * with a timeout and maps their answers to status codes; {@link quorumkv.http.RequestLimits}
 * validates input before anything is sent to an actor, so a 400 never changes anything. Every
 * error, Akka's own rejections included, is JSON with an {@code error} field. The routes are given
 * the actors they ask ({@code quorumkv.node.NodeWiring} builds them); nothing here spawns one.
 */
package quorumkv.http;
