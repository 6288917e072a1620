// A minimal SIP UAS over UDP for capturing fixtures with sipsak: 200 OK to OPTIONS and REGISTER,
// 486 Busy Here to INVITE, 405 to anything else. Usage: node sip-responder.mjs PORT
import { createSocket } from 'node:dgram';

const port = Number(process.argv[2] ?? 5060);
const sock = createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  const text = msg.toString('latin1');
  const [head] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const method = lines[0].split(' ')[0];
  if (method.startsWith('SIP/') || method === 'ACK') return; // responses and ACKs get no reply
  const copy = lines.filter((l) => /^(via|from|to|call-id|cseq|v|f|t|i):/i.test(l));
  const [code, phrase] =
    method === 'OPTIONS' || method === 'REGISTER'
      ? [200, 'OK']
      : method === 'INVITE'
        ? [486, 'Busy Here']
        : [405, 'Method Not Allowed'];
  const toTag = copy.map((l) => (/^(to|t):/i.test(l) && !/;tag=/i.test(l) ? `${l};tag=fx1` : l));
  const reply = [`SIP/2.0 ${code} ${phrase}`, ...toTag, 'Server: pcapline-fixture', 'Content-Length: 0', '', ''].join(
    '\r\n',
  );
  sock.send(reply, rinfo.port, rinfo.address);
});
sock.bind(port, '127.0.0.1');
