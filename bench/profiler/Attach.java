import com.sun.tools.attach.VirtualMachine;

/**
 * Loads async-profiler into a running JVM with an option string (start/stop/...). jcmd's
 * JVMTI.agent_load cannot pass async-profiler's "key=value" options, so profile-write-path.sh
 * runs this single-file program instead: java bench/profiler/Attach.java PID LIB OPTIONS
 */
public class Attach {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: java Attach.java PID LIBASYNCPROFILER_SO OPTIONS");
      System.exit(2);
    }
    VirtualMachine vm = VirtualMachine.attach(args[0]);
    try {
      vm.loadAgentPath(args[1], args[2]);
    } finally {
      vm.detach();
    }
  }
}
