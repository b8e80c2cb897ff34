import fcntl, os, struct, socket, subprocess, select, time, sys
name = sys.argv[1]
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', name.encode(), 0x0001 | 0x1000))
sh = lambda c: subprocess.run(c, shell=True, capture_output=True)
sh(f'ip link set {name} mtu 1500 up; ip addr add 10.99.0.1/24 dev {name}; ip -6 addr add fd99::1/64 dev {name} nodad; ip link set lo up')
time.sleep(0.3)
def drain():
    while select.select([fd], [], [], 0.05)[0]: os.read(fd, 70000)
def read_match(pred, t=2.0):
    end = time.time() + t; out = []
    while time.time() < end:
        if select.select([fd], [], [], 0.1)[0]:
            p = os.read(fd, 70000)
            if pred(p): out.append(p)
        elif out: break
    return out
def is4(proto): return lambda p: p[0] >> 4 == 4 and p[9] == proto
def is6(nh, types=None): return lambda p: p[0] >> 4 == 6 and p[6] == nh and (types is None or p[40] in types)
def refl4(p, ports=False):
    b = bytearray(p); b[12:16], b[16:20] = p[16:20], p[12:16]
    if ports: h = (p[0] & 15) * 4; b[h:h+2], b[h+2:h+4] = p[h+2:h+4], p[h:h+2]
    return bytes(b)
def refl6(p, ports=False):
    b = bytearray(p); b[8:24], b[24:40] = p[24:40], p[8:24]
    if ports: b[40:42], b[42:44] = p[42:44], p[40:42]
    return bytes(b)
def emit(label, p): print(label, p.hex())
drain()
subprocess.Popen('ping -c1 -W1 -s 16 10.99.0.2', shell=True, stdout=subprocess.DEVNULL)
q = read_match(is4(1))[0]; emit('ping4Request', q)
os.write(fd, refl4(q)); emit('ping4Reply', read_match(is4(1))[0])
subprocess.Popen('ping -6 -c1 -W1 -s 16 fd99::2', shell=True, stdout=subprocess.DEVNULL)
q = read_match(is6(58, (128,)))[0]; emit('ping6Request', q)
os.write(fd, refl6(q)); emit('ping6Reply', read_match(is6(58, (129,)))[0])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'hello', ('10.99.0.2', 5353))
q = read_match(is4(17))[0]; emit('udp4Hello', q); u.close()
os.write(fd, refl4(q, True)); emit('icmp4PortUnreach', read_match(is4(1))[0])
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.sendto(b'hello6', ('fd99::2', 5354))
q = read_match(is6(17))[0]; emit('udp6Hello', q); u.close()
os.write(fd, refl6(q, True)); emit('icmp6PortUnreach', read_match(is6(58, (1,)))[0])
for fam, addr, isx, refl, lab in ((socket.AF_INET, ('10.99.0.2', 9), is4(6), refl4, '4'), (socket.AF_INET6, ('fd99::2', 9), is6(6), refl6, '6')):
    c = socket.socket(fam, socket.SOCK_STREAM); c.setblocking(False)
    try: c.connect(addr)
    except BlockingIOError: pass
    q = read_match(isx, 1.0)[0]; emit('tcp' + lab + 'Syn', q); c.close(); drain()
    os.write(fd, refl(q, True)); emit('tcp' + lab + 'Rst', read_match(isx)[0])
subprocess.Popen('ping -c1 -W1 -s 2000 10.99.0.2', shell=True, stdout=subprocess.DEVNULL)
fr = read_match(is4(1)); emit('frag4ReqA', fr[0]); emit('frag4ReqB', fr[1])
for p in fr: os.write(fd, refl4(p))
rep = read_match(is4(1)); emit('frag4RepA', rep[0]); emit('frag4RepB', rep[1])
subprocess.Popen('ping -6 -c1 -W1 -s 2000 fd99::2', shell=True, stdout=subprocess.DEVNULL)
fr = read_match(is6(44)); emit('frag6ReqA', fr[0]); emit('frag6ReqB', fr[1])
for p in fr: os.write(fd, refl6(p))
rep = read_match(is6(44)); emit('frag6RepA', rep[0]); emit('frag6RepB', rep[1])
