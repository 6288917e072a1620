// A minimal SMTP sink (RFC 5321 command/reply dialogue, accepts every message) for capturing
// fixtures with swaks. Usage: node smtp-sink.mjs PORT
import { createServer } from 'node:net';

const port = Number(process.argv[2] ?? 2525);
createServer((sock) => {
  let buf = '';
  let inData = false;
  sock.write('220 sink.test ESMTP pcapline-fixture\r\n');
  sock.on('data', (chunk) => {
    buf += chunk.toString('latin1');
    for (;;) {
      if (inData) {
        const end = buf.indexOf('\r\n.\r\n');
        if (end < 0) return;
        buf = buf.slice(end + 5);
        inData = false;
        sock.write('250 2.0.0 Ok: queued as F1X7URE\r\n');
        continue;
      }
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      const line = buf.slice(0, eol);
      buf = buf.slice(eol + 2);
      const verb = line.split(' ')[0].toUpperCase();
      if (verb === 'EHLO') sock.write('250-sink.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n');
      else if (verb === 'HELO') sock.write('250 sink.test\r\n');
      else if (verb === 'MAIL' || verb === 'RSET' || verb === 'NOOP') sock.write('250 2.1.0 Ok\r\n');
      else if (verb === 'RCPT') {
        if (/nobody@/i.test(line)) sock.write('550 5.1.1 <nobody@sink.test>: Recipient address rejected\r\n');
        else sock.write('250 2.1.5 Ok\r\n');
      } else if (verb === 'DATA') {
        inData = true;
        sock.write('354 End data with <CR><LF>.<CR><LF>\r\n');
      } else if (verb === 'QUIT') {
        sock.end('221 2.0.0 Bye\r\n');
        return;
      } else sock.write('502 5.5.2 Error: command not recognized\r\n');
    }
  });
}).listen(port, '127.0.0.1');
