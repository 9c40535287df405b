# cmake -DIN=file -DOUT=file.cpp -DNAME=symbol -P embed.cmake
# Writes a C++ file defining `extern const unsigned char NAME[]` and
# `extern const unsigned long NAME_size` with the bytes of IN.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "// Generated from ${IN} by embed.cmake.\nnamespace rrun::core {\nextern const unsigned char ${NAME}[] = {${bytes}};\nextern const unsigned long ${NAME}_size = ${size};\n}\n")
