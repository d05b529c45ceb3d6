# Writes a C++ file that holds the bytes of IN as the character array NAME (unsigned, null-terminated), so
# that a document is built into a program: cmake -DIN=... -DOUT=... -DNAME=... -P embed.cmake
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT}.tmp
     "// Generated from ${IN} by dsl/embed.cmake.\n"
     "namespace journey::dsl {\nextern const unsigned char ${NAME}[];\nconst unsigned char ${NAME}[] = {${bytes}0};\n}\n")
file(RENAME ${OUT}.tmp ${OUT})
