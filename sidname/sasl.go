package sidname

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/go-ldap/ldap/v3/gssapi"
	"github.com/jcmturner/gokrb5/v8/crypto"
	krbgssapi "github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// SASL GSSAPI security layers (RFC 4752 3.3) and the largest buffer this
// side accepts.
const (
	saslLayerNone      = 1
	saslLayerIntegrity = 2
	saslMaxBuffer      = 1 << 20
)

// integrityClient is go-ldap's GSSAPI client with the last step of the
// SASL handshake done differently: go-ldap always chooses "no security
// layer", which Samba (ldap server require strong auth = yes, its
// default) and Active Directory with LDAP signing required refuse on a
// connection without TLS. This one chooses the integrity layer and arms
// conn to sign what is sent and verify what is received once the bind
// has succeeded.
type integrityClient struct {
	*gssapi.Client
	conn *saslConn
}

// NegotiateSaslAuth reads the server's offer of layers (a wrap token of 4
// bytes) and answers with the integrity layer.
func (c *integrityClient) NegotiateSaslAuth(input []byte, authzid string) ([]byte, error) {
	key := c.Subkey
	if len(key.KeyValue) == 0 {
		return nil, errors.New("sidname: SASL GSSAPI: the server sent no acceptor subkey")
	}
	payload, err := unwrap(input, key)
	if err != nil {
		return nil, fmt.Errorf("sidname: SASL GSSAPI: server's offer: %w", err)
	}
	if len(payload) != 4 {
		return nil, fmt.Errorf("sidname: SASL GSSAPI: server's offer of %d bytes, want 4", len(payload))
	}
	if payload[0]&saslLayerIntegrity == 0 {
		return nil, fmt.Errorf("sidname: SASL GSSAPI: server offers no integrity layer (layers %#x)", payload[0])
	}
	serverMax := uint32(payload[1])<<16 | uint32(payload[2])<<8 | uint32(payload[3])
	answer := []byte{saslLayerIntegrity, byte(saslMaxBuffer >> 16 & 0xff), byte(saslMaxBuffer >> 8 & 0xff), byte(saslMaxBuffer & 0xff)}
	answer = append(answer, authzid...)
	out, err := c.conn.wrap(key, answer)
	if err != nil {
		return nil, err
	}
	c.conn.arm(key, serverMax)
	return out, nil
}

// saslConn carries LDAP messages in SASL buffers (4-byte length, then an
// RFC 4121 wrap token without confidentiality) once armed and activated:
// armed at the end of the handshake, active when the bind has succeeded
// (the bind's own response comes unwrapped).
type saslConn struct {
	net.Conn

	mu        sync.Mutex
	key       types.EncryptionKey
	serverMax uint32
	armed     bool
	active    bool
	seq       uint64
	plain     []byte // unwrapped bytes not yet read
	raw       []byte // wire bytes read before activation was seen, not yet unwrapped
}

func (c *saslConn) arm(key types.EncryptionKey, serverMax uint32) {
	c.mu.Lock()
	c.key, c.serverMax, c.armed = key, serverMax, true
	c.mu.Unlock()
}

// activate turns the layer on; the bind must have succeeded.
func (c *saslConn) activate() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed {
		return errors.New("sidname: SASL GSSAPI: no security layer was negotiated")
	}
	c.active = true
	return nil
}

// wrap makes a wrap token of payload, signed, from the initiator.
func (c *saslConn) wrap(key types.EncryptionKey, payload []byte) ([]byte, error) {
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	ec, err := checksumLen(key)
	if err != nil {
		return nil, err
	}
	t := &krbgssapi.WrapToken{Flags: 0b100, EC: ec, SndSeqNum: seq, Payload: payload}
	if err := t.SetCheckSum(key, keyusage.GSSAPI_INITIATOR_SEAL); err != nil {
		return nil, fmt.Errorf("sidname: SASL GSSAPI: wrap: %w", err)
	}
	return t.Marshal()
}

func (c *saslConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	active, key, max := c.active, c.key, c.serverMax
	c.mu.Unlock()
	if !active {
		return c.Conn.Write(p)
	}
	// One SASL buffer per chunk the server accepts (less the token's
	// header and checksum).
	chunk := int(max) - 64
	if max == 0 || chunk > saslMaxBuffer {
		chunk = saslMaxBuffer
	}
	for rest := p; len(rest) > 0; {
		n := min(len(rest), chunk)
		tok, err := c.wrap(key, rest[:n])
		if err != nil {
			return len(p) - len(rest), err
		}
		buf := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(tok)), uint32(len(tok)))
		if _, err := c.Conn.Write(append(buf, tok...)); err != nil {
			return len(p) - len(rest), err
		}
		rest = rest[n:]
	}
	return len(p), nil
}

func (c *saslConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.plain) > 0 {
		n := copy(p, c.plain)
		c.plain = c.plain[n:]
		c.mu.Unlock()
		return n, nil
	}
	active, key := c.active, c.key
	c.mu.Unlock()
	if !active {
		// Before the bind completes nothing is wrapped; go-ldap's reader
		// reads the bind response through here before activate runs, and
		// then blocks in the next read, which returns the first wrapped
		// answer after activate: those bytes go to the unwrapping.
		n, err := c.Conn.Read(p)
		c.mu.Lock()
		active, key = c.active, c.key
		if active && n > 0 {
			c.raw = append(c.raw, p[:n]...)
		}
		c.mu.Unlock()
		if !active || err != nil {
			return n, err
		}
	}
	src := readerFunc(c.readRaw)
	var hdr [4]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > saslMaxBuffer {
		return 0, fmt.Errorf("sidname: SASL buffer of %d bytes exceeds %d", n, saslMaxBuffer)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(src, buf); err != nil {
		return 0, err
	}
	payload, err := unwrap(buf, key)
	if err != nil {
		return 0, fmt.Errorf("sidname: SASL GSSAPI: %w", err)
	}
	m := copy(p, payload)
	c.mu.Lock()
	c.plain = append(c.plain, payload[m:]...)
	c.mu.Unlock()
	return m, nil
}

// readRaw reads wire bytes: those kept from before activation first.
func (c *saslConn) readRaw(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.raw) > 0 {
		n := copy(p, c.raw)
		c.raw = c.raw[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// unwrap verifies a wrap token from the acceptor without confidentiality
// and returns its payload. The token's data part (payload, checksum) may
// be rotated right by RRC bytes (RFC 4121 4.2.5).
func unwrap(b []byte, key types.EncryptionKey) ([]byte, error) {
	t := &krbgssapi.WrapToken{}
	if err := gssapi.UnmarshalWrapToken(t, b, true); err != nil {
		return nil, err
	}
	if t.Flags&0b010 != 0 {
		return nil, errors.New("sealed wrap token, but no confidentiality was negotiated")
	}
	data := b[krbgssapi.HdrLen:]
	ec := int(t.EC)
	if ec > len(data) || len(data) == 0 {
		return nil, errors.New("wrap token shorter than its checksum")
	}
	rrc := int(t.RRC) % len(data)
	data = append(append([]byte(nil), data[rrc:]...), data[:rrc]...)
	t.Payload, t.CheckSum = data[:len(data)-ec], data[len(data)-ec:]
	if ok, err := t.Verify(key, keyusage.GSSAPI_ACCEPTOR_SEAL); !ok {
		return nil, fmt.Errorf("wrap token does not verify: %w", err)
	}
	return t.Payload, nil
}

func checksumLen(key types.EncryptionKey) (uint16, error) {
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return 0, err
	}
	return uint16(et.GetHMACBitLength() / 8), nil
}
