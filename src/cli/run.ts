import { main } from './main.js';

// Exit explicitly: client libraries may hold sockets open after a command has finished.
main(process.argv.slice(2)).then((code) => process.exit(code));
