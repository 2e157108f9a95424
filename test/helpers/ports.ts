/** Free ports for test servers, picked by the OS (listen on port 0, read it, close). */
export { freePort, freePorts, isPortFree } from "../../src/sandbox/ports.js";
