// renew --notify-mail: one plain-text mail through an SMTP server, with nodemailer (loaded only
// when a mail is sent). STARTTLS required when asked (requireTLS), implicit TLS on port 465, the
// password handed in by the caller (read from a file, never argv), every wait bounded.
export interface SmtpTarget {
  host: string;
  port: number;
  starttls: boolean;
  user?: string;
  password?: string;
  /** Extra trusted CA certificates (PEM) for the server's TLS certificate. */
  ca?: Buffer;
}

export interface Mail {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

export const MAIL_DEADLINE_MS = 30_000;

/** Send `mail`; throws one line naming the server. */
export async function sendMail(server: SmtpTarget, mail: Mail): Promise<void> {
  const nodemailer = (await import('nodemailer')).default;
  const transport = nodemailer.createTransport({
    host: server.host,
    port: server.port,
    secure: server.port === 465,
    requireTLS: server.starttls,
    auth: server.user ? { user: server.user, pass: server.password ?? '' } : undefined,
    tls: server.ca ? { ca: [server.ca.toString('utf8')] } : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 15_000,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${MAIL_DEADLINE_MS / 1000} s`)), MAIL_DEADLINE_MS);
  });
  try {
    await Promise.race([
      transport.sendMail({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.text }),
      late,
    ]);
  } catch (err) {
    throw new Error(`SMTP ${server.host}:${server.port}: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    clearTimeout(timer);
    transport.close();
  }
}
